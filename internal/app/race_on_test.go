//go:build race

package app_test

// raceDetector is true when the tests run under -race, which makes each
// request 10-30x dearer: a test whose point is a count, not concurrency,
// may use a smaller count there (CI runs only the race build).
const raceDetector = true
