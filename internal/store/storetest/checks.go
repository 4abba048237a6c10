package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// ClaimChecks takes the connections due, longest overdue first, at most
// limit, and leases them: a connection is due at its next check or, before
// its first one, an interval after it was verified (or created, if never).
// Not yet due, or leased to a check in flight, it is left.
func testClaimChecks(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	const day = 24 * time.Hour
	t0 := f.clock.now()
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	made := map[string]*domain.Connection{}
	for _, c := range []struct {
		id       string
		verified *time.Time
		created  time.Duration
	}{
		{"verified-long-ago", at(0), 0},             // due at t0 + 1 day
		{"never-verified", nil, time.Hour},          // due at its creation, t0 + 1h, + 1 day
		{"next-check-passed", at(2 * time.Hour), 0}, // next check set below: t0 + 1 day 2h
		{"next-check-ahead", at(2 * time.Hour), 0},  // next check set below: t0 + 40h
		{"verified-recently", at(3 * time.Hour), 0}, // due at t0 + 3h + 1 day: after the claims
		{"leased", at(30 * time.Minute), 0},         // due, but claimed first below
	} {
		if c.created > 0 {
			f.clock.add(c.created)
		}
		out, _ := f.upsert(f.conn(c.id, func(x *domain.Connection) { x.LastVerifiedAt = c.verified }), domain.UpsertOptions{})
		made[c.id] = out
	}
	for id, next := range map[string]time.Time{"next-check-passed": t0.Add(day + 2*time.Hour), "next-check-ahead": t0.Add(40 * time.Hour)} {
		if ok, err := s.CompleteCheck(ctx, made[id], domain.CheckResult{Status: domain.StatusOK, Next: next}, nil, nil); err != nil || !ok {
			t.Fatalf("complete %s: %v %v", id, ok, err)
		}
	}
	claim := func(now time.Time, limit int) string {
		t.Helper()
		got, err := s.ClaimChecks(ctx, now, day, 5*time.Minute, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ConnectionID)
		}
		return strings.Join(ids, ",")
	}
	// At t0 + 1 day 40 min only the two verified first are due; each claim
	// leases what it takes.
	if got := claim(t0.Add(day+40*time.Minute), 1); got != "verified-long-ago" {
		t.Fatalf("at 1 day 40 min: %q, want verified-long-ago", got)
	}
	if got := claim(t0.Add(day+40*time.Minute), 10); got != "leased" {
		t.Fatalf("at 1 day 40 min, again: %q, want leased", got)
	}
	now := t0.Add(day + 150*time.Minute) // the first leases (5 min) have run out; "leased" claimed again
	if got := claim(now, 2); got != "verified-long-ago,leased" {
		t.Errorf("first claim: %q, want the two longest overdue", got)
	}
	if got := claim(now, 10); got != "never-verified,next-check-passed" {
		t.Errorf("second claim: %q, want the rest of those due, in order", got)
	}
	if got := claim(now, 10); got != "" {
		t.Errorf("third claim: %q, want none (leased, or not due)", got)
	}
}
