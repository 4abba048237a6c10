package httpapi

import (
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Guessing is slow (internal/throttle): each client address may fail to
// authenticate ten times in a row, then once every 6 seconds; an address that
// has used up its failures is refused before its credential is even looked
// at, so a guess costs nothing and teaches nothing.
const (
	failureBurst  = 10
	failureRefill = 6 * time.Second // ten a minute after the burst
)

// tooManyFailures is the answer to an address that has used up its failures.
func tooManyFailures(wait time.Duration) *domain.Error {
	e := domain.NewError(domain.KindRateLimited, "too_many_failed_authentications",
		"Too many failed authentications from this address. Wait, then try again with a valid credential.")
	e.RetryAfter = max(wait, time.Second)
	return e
}

// guessing reports whether err is a failed authentication worth counting
// (a wrong credential; not a missing one).
func guessing(err error) bool {
	e, ok := domain.AsError(err)
	return ok && e.Kind == domain.KindUnauthenticated && e.Code != "missing_auth_header" && e.Code != "missing_connect_session_token"
}
