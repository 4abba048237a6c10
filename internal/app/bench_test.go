package app_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/atlassiansim"
	"github.com/latchkeyhq/latchkey/internal/testdb"
)

// BenchmarkCredentialRead measures GET /connections/{id} (decrypting the
// credentials) over loopback HTTP, in parallel.
func BenchmarkCredentialRead(b *testing.B) { benchReads(b, newHarness(b)) }

func benchReads(b *testing.B, h *harness) {
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	url := h.srv.URL + "/connections/" + id + "?provider_config_key=jira"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+testSecretKey)
			res, err := hc.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("%v %v", res, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

// BenchmarkConnect measures a whole connection: create a connect session, submit
// credentials, verify them against the simulated Atlassian over loopback, save.
func BenchmarkConnect(b *testing.B) { benchConnect(b, newHarness(b)) }

func benchConnect(b *testing.B, h *harness) {
	h.integration("jira", atlassian)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, err := h.c.CreateConnectSession(h.ctx(), client.ConnectSessionRequest{EndUser: &client.EndUser{ID: "u"}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.c.SubmitBasic(h.ctx(), s.Token, "jira", map[string]string{"cloudId": atlassiansim.DemoCloudID}, atlassiansim.DemoEmail, atlassiansim.DemoToken); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProxy measures a proxied GET through the real router to the
// simulated Atlassian over loopback, in parallel.
func BenchmarkProxy(b *testing.B) {
	h := newHarness(b)
	h.integration("jira", atlassian)
	id := h.connect(h.session(client.ConnectSessionRequest{}), "jira")
	url := h.srv.URL + "/proxy/ex/jira/" + atlassiansim.DemoCloudID + "/rest/api/3/myself"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+testSecretKey)
			req.Header.Set("Provider-Config-Key", "jira")
			req.Header.Set("Connection-Id", id)
			res, err := hc.Do(req)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("%v %v", res, err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}

// The same two benchmarks on PostgreSQL (LATCHKEY_TEST_DATABASE_URL).
func BenchmarkCredentialReadPostgres(b *testing.B) {
	benchReads(b, newHarness(b, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(b)))
}
func BenchmarkConnectPostgres(b *testing.B) {
	benchConnect(b, newHarness(b, "LATCHKEY_DATABASE_URL="+testdb.PostgresURL(b)))
}
