package auth

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// Submissions that reach the provider are limited per connect session, so a
// leaked link cannot be used to test stolen tokens against Atlassian at speed.
// A person who mistypes a few times is never slowed: the bucket holds a burst.
// The bucket lives on the session row (Store.TakeSessionAttempt), so the limit
// holds across instances.
const (
	submitBurst  = 5
	submitRefill = 12 * time.Second // one more attempt every 12 s (5 a minute)
)

func tooManyAttempts(wait time.Duration) *domain.Problem {
	secs := int(math.Ceil(wait.Seconds()))
	return &domain.Problem{Status: http.StatusTooManyRequests, Code: "too_many_request",
		Message: fmt.Sprintf("Too many attempts with this link. Wait %d seconds, then try again.", secs),
		Header:  map[string]string{"Retry-After": strconv.Itoa(secs)}, Payload: map[string]any{"retry_after": secs}}
}
