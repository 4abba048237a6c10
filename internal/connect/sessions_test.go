package connect_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                                   { return c.t }
func (c fixedClock) Sleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// fixture is a connect service on a real SQLite file with one integration, "jira".
func fixture(t *testing.T) (*connect.Service, *domain.Environment, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	env, _, err := st.EnsureEnvironment(ctx, "dev", secret.HashToken("sk_test_0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateIntegration(ctx, &domain.Integration{EnvironmentID: env.ID, UniqueKey: "jira", Provider: "atlassian-service-account-api-token"}); err != nil {
		t.Fatal(err)
	}
	cat, err := provider.Load("http://latchkey.test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.GenerateKey()
	ring, _ := secret.NewKeyRing(key)
	clk := fixedClock{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	conns := connections.New(connections.Options{Store: st, Catalogue: cat, Keys: ring, Clock: clk})
	return connect.New(connect.Options{Store: st, Connections: conns, Clock: clk}), env, st
}

func ptr[T any](v T) *T { return &v }

func paths(err error) []string {
	var e *domain.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, strings.Join(f.Path, "."))
	}
	return out
}

func TestCreateSessionValidation(t *testing.T) {
	svc, env, _ := fixture(t)
	ctx := context.Background()
	cases := []struct {
		name string
		req  connect.SessionRequest
		want []string // field paths at fault; nil means accepted
	}{
		{"end user", connect.SessionRequest{EndUser: &connections.EndUserInput{ID: "u1", Email: ptr("ada@example.com")}}, nil},
		{"tags alone", connect.SessionRequest{Tags: map[string]string{"team": "a"}}, nil},
		{"neither end user nor tags", connect.SessionRequest{}, []string{"end_user"}},
		{"empty end user id", connect.SessionRequest{EndUser: &connections.EndUserInput{}}, []string{"end_user.id"}},
		{"bad email", connect.SessionRequest{EndUser: &connections.EndUserInput{ID: "u", Email: ptr("Ada <ada@example.com>")}}, []string{"end_user.email"}},
		{"long display name", connect.SessionRequest{EndUser: &connections.EndUserInput{ID: "u", DisplayName: ptr(strings.Repeat("x", 256))}}, []string{"end_user.display_name"}},
		{"bad tag key", connect.SessionRequest{Tags: map[string]string{"1abc": "v"}}, []string{"tags.1abc"}},
		{"empty tag value", connect.SessionRequest{Tags: map[string]string{"k": ""}}, []string{"tags.k"}},
		{"too many tags", connect.SessionRequest{Tags: map[string]string{"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1", "g": "1", "h": "1", "i": "1", "j": "1", "k": "1"}}, []string{"tags"}},
		{"unknown allowed integration", connect.SessionRequest{Tags: map[string]string{"t": "v"}, AllowedIntegrations: []string{"jira", "ghost"}}, []string{"allowed_integrations.1"}},
		{"defaults for an unknown integration", connect.SessionRequest{Tags: map[string]string{"t": "v"}, IntegrationsConfigDefaults: map[string]connect.IntegrationDefaultsInput{"ghost": {}}}, []string{"integrations_config_defaults.ghost"}},
		{"object in connection config defaults", connect.SessionRequest{Tags: map[string]string{"t": "v"},
			IntegrationsConfigDefaults: map[string]connect.IntegrationDefaultsInput{"jira": {ConnectionConfig: map[string]any{"cloudId": map[string]any{}}}}}, []string{"integrations_config_defaults.jira.connection_config.cloudId"}},
		{"docs override not a URL", connect.SessionRequest{Tags: map[string]string{"t": "v"}, Overrides: map[string]connect.OverrideInput{"jira": {DocsConnect: "javascript:alert(1)"}}}, []string{"overrides.jira.docs_connect"}},
		{"webhook override not a URL", connect.SessionRequest{Tags: map[string]string{"t": "v"}, WebhookURLOverride: ptr("ftp://x")}, []string{"webhook_url_override"}},
		{"every problem at once", connect.SessionRequest{EndUser: &connections.EndUserInput{ID: "", Email: ptr("x")}, AllowedIntegrations: []string{"ghost"}}, []string{"end_user.id", "end_user.email", "allowed_integrations.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := svc.CreateSession(ctx, env, &c.req)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !strings.HasPrefix(s.Token, connect.SessionTokenPrefix) || !s.Session.ExpiresAt.Equal(time.Date(2026, 11, 30, 12, 30, 0, 0, time.UTC)) {
					t.Errorf("session = %q expires %v", s.Token, s.Session.ExpiresAt)
				}
				return
			}
			var e *domain.Error
			if !errors.As(err, &e) || e.Kind != domain.KindInvalid || e.Code != "invalid_body" {
				t.Fatalf("err = %v, want invalid_body", err)
			}
			if got := paths(err); !slices.Equal(got, c.want) {
				t.Errorf("paths = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSessionTagsAndToken(t *testing.T) {
	svc, env, _ := fixture(t)
	ctx := context.Background()
	s, err := svc.CreateSession(ctx, env, &connect.SessionRequest{
		EndUser: &connections.EndUserInput{ID: "u1", Email: ptr("ada@example.com"), Tags: map[string]string{"Plan": "pro"}},
		Tags:    map[string]string{"Region": "eu", "plan": "enterprise"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The end user's identity becomes tags; keys are lowercased; the request's tags win.
	want := map[string]string{"end_user_id": "u1", "end_user_email": "ada@example.com", "plan": "enterprise", "region": "eu"}
	if got := s.Session.Tags; len(got) != len(want) || got["plan"] != "enterprise" || got["region"] != "eu" || got["end_user_id"] != "u1" || got["end_user_email"] != "ada@example.com" {
		t.Errorf("tags = %v, want %v", got, want)
	}
	got, err := svc.SessionByToken(ctx, s.Token)
	if err != nil || got.ID != s.Session.ID {
		t.Fatalf("by token: %v %v", got, err)
	}
	for token, code := range map[string]string{
		"garbage": "invalid_connect_session_token_format",
		connect.SessionTokenPrefix + strings.Repeat("0", 64): "unknown_connect_session_token",
	} {
		_, err := svc.SessionByToken(ctx, token)
		var e *domain.Error
		if !errors.As(err, &e) || e.Kind != domain.KindUnauthenticated || e.Code != code {
			t.Errorf("token %.20s…: %v, want %s", token, err, code)
		}
	}
}

func TestReconnectSessionNeedsAnExistingConnection(t *testing.T) {
	svc, env, _ := fixture(t)
	_, err := svc.CreateReconnectSession(context.Background(), env, &connect.ReconnectRequest{ConnectionID: "nope", IntegrationID: "jira"})
	var e *domain.Error
	if !errors.As(err, &e) || e.Kind != domain.KindInvalid || !slices.Equal(paths(err), []string{"connection_id"}) {
		t.Fatalf("err = %v", err)
	}
	_, err = svc.CreateReconnectSession(context.Background(), env, &connect.ReconnectRequest{})
	if got := paths(err); !slices.Equal(got, []string{"connection_id", "integration_id"}) {
		t.Errorf("paths = %v", got)
	}
}

func TestUnknownIntegrationIsNamed(t *testing.T) {
	svc, env, _ := fixture(t)
	_, err := svc.CreateSession(context.Background(), env, &connect.SessionRequest{Tags: map[string]string{"t": "v"}, AllowedIntegrations: []string{"jira", "ghost"}})
	var e *domain.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || !strings.Contains(e.Fields[0].Message, `"ghost"`) || !strings.Contains(e.Message, `"ghost"`) {
		t.Fatalf("err = %+v, want the unknown key named", err)
	}
}
