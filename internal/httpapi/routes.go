package httpapi

import "net/http"

// Access says which credential a route takes.
type Access int

const (
	// Public routes take no credential.
	Public Access = iota
	// SecretKey routes take the environment's secret key (Authorization: Bearer).
	SecretKey
	// SessionToken routes take a connect session token (Authorization: Bearer).
	SessionToken
	// SecretKeyOrSession routes take either.
	SecretKeyOrSession
	// SessionTokenInQuery routes take a connect session token in the
	// connect_session_token query parameter (the browser's credential submissions).
	SessionTokenInQuery
)

func (a Access) String() string {
	return [...]string{"public", "secret_key", "session_token", "secret_key_or_session_token", "session_token_in_query"}[a]
}

// Route is one pattern registered on the router and the credential it takes.
type Route struct {
	Pattern string
	Access  Access
}

// Router is where routes are registered; Options.Extra mounts through it so
// that every route, the Connect UI's included, is listed by API.Routes.
type Router interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// recordingMux is a ServeMux that remembers what was registered on it.
type recordingMux struct {
	*http.ServeMux
	routes []Route
}

func (m *recordingMux) Handle(pattern string, h http.Handler) {
	m.routes = append(m.routes, Route{Pattern: pattern, Access: Public})
	m.ServeMux.Handle(pattern, h)
}

func (m *recordingMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.Handle(pattern, http.HandlerFunc(h))
}

// proxyPattern is the proxy's route.
const proxyPattern = "/proxy/"

// route registers h at pattern behind the check its access level asks for,
// and returns the handler registered.
func (a *API) route(mux *recordingMux, pattern string, access Access, h handlerFunc) http.Handler {
	var handler http.Handler
	switch access {
	case SecretKey:
		handler = a.guard(h, true, false)
	case SessionToken:
		handler = a.guard(h, false, true)
	case SecretKeyOrSession:
		handler = a.guard(h, true, true)
	default: // Public, SessionTokenInQuery: the handler authenticates (or not) itself
		handler = a.wrap(h)
	}
	handler = a.checkText(handler)
	mux.ServeMux.Handle(pattern, handler)
	mux.routes = append(mux.routes, Route{Pattern: pattern, Access: access})
	return handler
}

// Routes lists every pattern registered on the router, in registration order.
func (a *API) Routes() []Route { return append([]Route(nil), a.routeList...) }
