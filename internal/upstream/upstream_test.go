package upstream

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestRewrites(t *testing.T) {
	rw, err := ParseRewrites("https://api.atlassian.com=http://127.0.0.1:9999, https://*.atlassian.net=http://127.0.0.1:8888/")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"https://api.atlassian.com/ex/jira/x?q=1": "http://127.0.0.1:9999/ex/jira/x?q=1",
		"https://acme.atlassian.net/rest":         "http://127.0.0.1:8888/rest",
		"http://api.atlassian.com/x":              "http://api.atlassian.com/x",
		"https://atlassian.net/x":                 "https://atlassian.net/x",
		"https://api.atlassian.com.evil.com/x":    "https://api.atlassian.com.evil.com/x",
	}
	for in, want := range cases {
		u, _ := url.Parse(in)
		if got, _ := Apply(rw, u); got.String() != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"https://a", "https://a=ftp://b", "https://a/path=http://b", "https://a=https://*.b"} {
		if _, err := ParseRewrites(bad); err == nil {
			t.Errorf("ParseRewrites(%q) accepted", bad)
		}
	}
}

func TestClientRewritesAndKeepsRedirectsOnOrigin(t *testing.T) {
	var gotHost string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("redirect followed to another origin") }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost = r.Header.Get("X-Forwarded-Host")
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	rw, _ := ParseRewrites("https://*.atlassian.net=" + srv.URL)
	c := NewClient(NewTransport(nil), rw, 0)
	res, err := c.Get("https://acme.atlassian.net/x")
	if err != nil || res.StatusCode != 200 || gotHost != "acme.atlassian.net" {
		t.Fatalf("res %v err %v host %q", res, err, gotHost)
	}
	res.Body.Close()
	res, err = c.Get("https://acme.atlassian.net/away")
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %v", res, err)
	}
	res.Body.Close()
}

// "https://*" sends every host of the scheme elsewhere; rules are tried in order.
func TestRewriteCatchAll(t *testing.T) {
	rw, err := ParseRewrites("https://auth.atlassian.com=http://127.0.0.1:1,https://*=http://127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"https://auth.atlassian.com/oauth/token": "http://127.0.0.1:1/oauth/token",
		"https://api.hubspot.com/crm/v3":         "http://127.0.0.1:2/crm/v3",
		"https://acme.zendesk.com/api/v2":        "http://127.0.0.1:2/api/v2",
	} {
		u, _ := url.Parse(in)
		if got, ok := Apply(rw, u); !ok || got.String() != want {
			t.Errorf("%s → %v, want %s", in, got, want)
		}
	}
	if u, _ := url.Parse("http://plain.example/x"); func() bool { _, ok := Apply(rw, u); return ok }() {
		t.Error("https://* rewrote an http URL")
	}
	if _, err := ParseRewrites("https://a=http://*"); err == nil {
		t.Error("a wildcard target was accepted")
	}
}
