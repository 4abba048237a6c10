package domain

import (
	"errors"
	"strings"
	"time"
)

// Kind says what went wrong, in terms the HTTP layer maps to a status (the one
// table in httpapi/errors.go). Services choose a kind and a stable code, never a
// status or a header.
type Kind int

const (
	// KindInternal is a failure of latchkey itself; the caller is told nothing more.
	KindInternal Kind = iota
	// KindInvalid: the caller's input is wrong (field errors say where).
	KindInvalid
	// KindUnauthenticated: no credential, or one that is not valid.
	KindUnauthenticated
	// KindNotFound: what the request names does not exist.
	KindNotFound
	// KindConflict: the request clashes with what exists.
	KindConflict
	// KindTooLarge: a body or value is over its bound.
	KindTooLarge
	// KindUnsupportedMedia: the body is not of a type the route takes.
	KindUnsupportedMedia
	// KindRateLimited: too many requests; RetryAfter says when to try again.
	KindRateLimited
	// KindUpstreamUnavailable: the provider could not be reached or was failing.
	KindUpstreamUnavailable
	// KindUpstreamTimeout: the provider did not answer in time.
	KindUpstreamTimeout
	// KindUnavailable: latchkey's own database cannot be reached.
	KindUnavailable
	// KindCanceled: the caller went away before an answer was ready.
	KindCanceled
	// KindForbidden: the caller is known (or need not be) but may not do this from here.
	KindForbidden
)

// Error is an error meant for the API caller: what kind of failure it is, a
// stable code for programs, a message a person can act on, and optionally the
// fields at fault, a payload and when to try again. Anything that is not an
// *Error becomes an internal error with no detail.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	Payload map[string]any
	// RetryAfter, when positive, tells the caller how long to wait.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is(err, ErrNotFound) true for not-found errors, so callers
// that only care about the kind need not unwrap.
func (e *Error) Is(target error) bool {
	return (target == ErrNotFound && e.Kind == KindNotFound) || (target == ErrUnavailable && e.Kind == KindUnavailable)
}

// NewError builds an Error.
func NewError(kind Kind, code, message string, fields ...FieldError) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Fields: fields}
}

// Invalid is a KindInvalid error.
func Invalid(code, message string, fields ...FieldError) *Error {
	return NewError(KindInvalid, code, message, fields...)
}

// InvalidFields reports field errors with their messages joined as the summary.
func InvalidFields(code string, fields []FieldError) *Error {
	return Invalid(code, Summarize(fields), fields...)
}

// NotFound is a KindNotFound error.
func NotFound(code, message string) *Error { return NewError(KindNotFound, code, message) }

// Unauthenticated is a KindUnauthenticated error.
func Unauthenticated(code, message string) *Error {
	return NewError(KindUnauthenticated, code, message)
}

// Field builds one FieldError.
func Field(code, message string, path ...string) FieldError {
	return FieldError{Code: code, Message: message, Path: path}
}

// Summarize joins field errors' messages into one sentence list.
func Summarize(errs []FieldError) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, " ")
}

// AsError returns err's *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
