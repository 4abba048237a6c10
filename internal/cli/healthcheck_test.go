package cli

import (
	"net"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/app"
)

func TestHealthcheck(t *testing.T) {
	s := startServe(t, map[string]string{"LATCHKEY_DATA_DIR": t.TempDir()})
	defer s.stop()
	_, port, _ := net.SplitHostPort(s.addr)
	for _, env := range []map[string]string{
		{"LATCHKEY_ADDR": s.addr},
		{"LATCHKEY_ADDR": "0.0.0.0:" + port, "LATCHKEY_PUBLIC_URL": "https://auth.example.com"}, // the public URL is never asked
	} {
		if code, out, errs := cliRun(env)("healthcheck"); code != 0 || !strings.Contains(out, "http://127.0.0.1:"+port+"/health") || !strings.Contains(out, `"ok"`) {
			t.Errorf("healthcheck with %v: %d %q %q", env, code, out, errs)
		}
	}
	if code, out, errs := cliRun(nil)("healthcheck", "--ready", "--url", "http://"+s.addr); code != 0 || !strings.Contains(out, "/ready") {
		t.Errorf("healthcheck --ready: %d %q %q", code, out, errs)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	if code, _, errs := cliRun(map[string]string{"LATCHKEY_ADDR": closed})("healthcheck"); code != 1 || !strings.Contains(errs, closed) {
		t.Errorf("nothing listening: %d %q", code, errs)
	}
	if code, _, errs := cliRun(nil)("healthcheck", "--url", "http://"+s.addr+"/nope"); code != 1 || !strings.Contains(errs, "answered 404") {
		t.Errorf("a 404: %d %q", code, errs)
	}
	if code, _, _ := cliRun(nil)("healthcheck", "extra"); code != 2 {
		t.Errorf("an extra argument: %d", code)
	}
}

// version names the commit: the one the release script stamps, else the
// go command's record of the checkout, else "unknown".
func TestVersionShowsTheCommit(t *testing.T) {
	defer func(c string) { app.Commit = c }(app.Commit)
	app.Commit = "abc1234"
	if code, out, _ := cliRun(nil)("version"); code != 0 || !strings.HasPrefix(out, "latchkey "+app.Version+" (commit abc1234, go") {
		t.Errorf("version: %d %q", code, out)
	}
	app.Commit = ""
	if code, out, _ := cliRun(nil)("version"); code != 0 || !strings.Contains(out, "(commit "+app.Revision()+",") || app.Revision() == "" {
		t.Errorf("version without a stamped commit: %d %q", code, out)
	}
}
