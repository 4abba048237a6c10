package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/httpapi/openapiclient"
)

// A client generated from the OpenAPI document (oapi-codegen) works against a
// real latchkey: the whole link flow, with the submission's deepObject params
// and the typed answers it decodes.
func TestGeneratedClient(t *testing.T) {
	h := newHarness(t)
	ctx := h.ctx()
	bearer := func(token string) openapiclient.RequestEditorFn {
		return func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}
	}
	c, err := openapiclient.NewClientWithResponses(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	in, err := c.CreateIntegrationWithResponse(ctx, openapiclient.CreateIntegrationRequest{Provider: atlassian, UniqueKey: "jira"}, bearer(testSecretKey))
	if err != nil || in.JSON200 == nil {
		t.Fatalf("create integration: %v %d %s", err, in.StatusCode(), in.Body)
	}
	if in.JSON200.Data.UniqueKey != "jira" || in.JSON200.Data.Provider != atlassian {
		t.Errorf("integration = %+v", in.JSON200.Data)
	}

	sess, err := c.CreateConnectSessionWithResponse(ctx, openapiclient.ConnectSessionRequest{
		EndUser: &openapiclient.EndUserInput{Id: "user-7"}, AllowedIntegrations: &[]string{"jira"}}, bearer(testSecretKey))
	if err != nil || sess.JSON201 == nil {
		t.Fatalf("create session: %v %d %s", err, sess.StatusCode(), sess.Body)
	}

	withToken := func(_ context.Context, r *http.Request) error {
		q := r.URL.Query()
		q.Set("connect_session_token", sess.JSON201.Data.Token)
		r.URL.RawQuery = q.Encode()
		return nil
	}
	params := openapiclient.SubmissionParams{"cloudId": atlassiansim.DemoCloudID}
	email, token := atlassiansim.DemoEmail, atlassiansim.DemoToken
	sub, err := c.SubmitBasicWithResponse(ctx, "jira", &openapiclient.SubmitBasicParams{Params: &params},
		openapiclient.BasicCredentialsBody{Username: &email, Password: &token}, withToken)
	if err != nil || sub.JSON200 == nil {
		t.Fatalf("submit: %v %d %s", err, sub.StatusCode(), sub.Body)
	}

	conn, err := c.GetConnectionWithResponse(ctx, sub.JSON200.ConnectionId, &openapiclient.GetConnectionParams{ProviderConfigKey: "jira"}, bearer(testSecretKey))
	if err != nil || conn.JSON200 == nil {
		t.Fatalf("get connection: %v %d %s", err, conn.StatusCode(), conn.Body)
	}
	got := conn.JSON200
	if got.Status != openapiclient.ConnectionStatusOk || got.Credentials.Username == nil || *got.Credentials.Username != email ||
		got.ConnectionConfig["cloudId"] != atlassiansim.DemoCloudID || got.EndUser == nil || got.EndUser.Id != "user-7" || got.LastVerifiedAt == nil {
		t.Errorf("connection = %+v", got)
	}

	// An error answer decodes into the documented error type.
	missing, err := c.GetConnectionWithResponse(ctx, "nope", &openapiclient.GetConnectionParams{ProviderConfigKey: "jira"}, bearer(testSecretKey))
	if err != nil || missing.JSON404 == nil || missing.JSON404.Error.Code != "not_found" {
		t.Fatalf("unknown connection: %v %d %s", err, missing.StatusCode(), missing.Body)
	}
}
