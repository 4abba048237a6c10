// Package domain holds the plain types shared by latchkey's services and the
// sentinel errors they use. It imports only the standard library.
package domain

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"time"
)

// Sentinel errors. Stores return them (wrapped) so services can tell cases apart
// without knowing which database is underneath.
var (
	// ErrNotFound means the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint would be violated.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable means the database could not be reached.
	ErrUnavailable = errors.New("database unavailable")
)

// Auth modes, as Nango's providers.yaml names them.
const (
	AuthModeBasic    = "BASIC"
	AuthModeAPIKey   = "API_KEY"
	AuthModeOAuth2CC = "OAUTH2_CC"
)

// Environment is an isolated tenant: its own secret keys, integrations and connections.
type Environment struct {
	ID                  int64
	Name                string
	WebhookURL          string
	WebhookSecondaryURL string
	// WebhookSigningKey is sealed ("v1:…"); empty until one is generated or set.
	WebhookSigningKey string
	CreatedAt         time.Time
}

// SecretKey is one of an environment's secret keys. An environment has one or
// more, so that a key can be replaced without downtime: create a second one,
// move the clients to it, revoke the first. Only the key's SHA-256 digest is
// stored; the key itself is shown once, when it is created.
type SecretKey struct {
	ID            int64
	EnvironmentID int64
	Digest        string
	Label         string
	CreatedAt     time.Time
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
}

// Active reports whether the key still authenticates.
func (k *SecretKey) Active() bool { return k.RevokedAt == nil }

// ConsoleSession is an operator signed in to the console at /admin with one of
// an environment's secret keys. The cookie holds a random token; the store
// keeps its digest.
type ConsoleSession struct {
	ID            int64
	Digest        string
	EnvironmentID int64
	SecretKeyID   int64
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time
}

// Where an audited action came from.
const (
	ViaAPI     = "api"     // a program, with the secret key in Authorization
	ViaConsole = "console" // an operator, in a console session opened with the key
)

// AuditEntry is one operator action of the audit trail: what was done, to
// what, by which secret key (directly or through a console session), when.
// It never contains a secret.
type AuditEntry struct {
	ID            int64
	EnvironmentID int64
	SecretKeyID   int64
	Via           string // ViaAPI or ViaConsole
	Action        string // e.g. "connection.delete", "secret_key.revoke"
	Target        string // what it was done to, e.g. "jira/conn-1", "key 3"
	Detail        string
	Client        string // the client's network address
	At            time.Time
}

// AuditFilter narrows an audit listing, newest first; zero values do not filter.
type AuditFilter struct {
	Action   string
	BeforeID int64
	Limit    int
}

// ConnectionCounts summarise an environment's connections for the console.
type ConnectionCounts struct {
	Total    int
	ByStatus map[string]int
	// Expiring counts tokens that expire between now and the horizon asked for.
	Expiring int
	// Failing counts connections whose status is not ok or whose last checks
	// could not reach the provider.
	Failing int
}

// WebhookCounts summarise an environment's webhook deliveries for the console.
type WebhookCounts struct {
	// Failed deliveries were given up on; Retrying ones failed at least once
	// and will be tried again; Pending ones wait for their first or next try.
	Failed, Retrying, Pending int
	OldestPending             *time.Time
}

// Integration is one configured use of a provider in an environment ("unique_key").
type Integration struct {
	ID              int64
	EnvironmentID   int64
	UniqueKey       string
	Provider        string
	DisplayName     string
	ForwardWebhooks bool
	Config          map[string]any
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// EndUser is who a connect session (and so a connection) belongs to in the customer's product.
type EndUser struct {
	ID                      string            `json:"id"`
	Email                   string            `json:"email,omitempty"`
	DisplayName             string            `json:"display_name,omitempty"`
	Tags                    map[string]string `json:"tags,omitempty"`
	OrganizationID          string            `json:"organization_id,omitempty"`
	OrganizationDisplayName string            `json:"organization_display_name,omitempty"`
}

// IntegrationDefaults are the per-integration defaults a connect session carries.
type IntegrationDefaults struct {
	ConnectionConfig    map[string]any `json:"connection_config,omitempty"`
	UserScopes          string         `json:"user_scopes,omitempty"`
	AuthorizationParams map[string]any `json:"authorization_params,omitempty"`
}

// ConnectSession authorises an end user's browser to create (or reconnect) a connection.
type ConnectSession struct {
	ID                  int64
	EnvironmentID       int64
	TokenHash           string
	EndUser             *EndUser
	AllowedIntegrations []string
	ConfigDefaults      map[string]IntegrationDefaults
	Overrides           map[string]map[string]string
	WebhookURLOverride  string
	Tags                map[string]string
	// ReconnectIntegration and ReconnectConnectionID pin the session to an existing connection.
	ReconnectIntegration  string
	ReconnectConnectionID string
	ExpiresAt             time.Time
	CreatedAt             time.Time
}

// IsReconnect reports whether the session is pinned to an existing connection.
func (s *ConnectSession) IsReconnect() bool { return s.ReconnectConnectionID != "" }

// ConnectionError is one entry of a connection's errors array, in Nango's shape.
type ConnectionError struct {
	Type  string `json:"type"`
	LogID string `json:"log_id"`
}

// Warning is a non-fatal finding recorded on a connection, such as a missing scope.
type Warning struct {
	Code    string `json:"code"`
	Product string `json:"product,omitempty"`
	Message string `json:"message"`
}

// Connection statuses.
const (
	StatusOK                 = "ok"
	StatusScopeMissing       = "scope_missing"
	StatusInvalidCredentials = "invalid_credentials"
	StatusExpired            = "expired"
	StatusUnreachable        = "unreachable"
)

// Connection is a linked third-party account. Credentials hold the decrypted
// credential JSON only while in memory; the store keeps them encrypted.
type Connection struct {
	ID               int64
	EnvironmentID    int64
	IntegrationID    int64
	IntegrationKey   string
	ConnectionID     string
	Provider         string
	ConnectionConfig map[string]any
	Credentials      Credentials
	// SealedCredentials is the encrypted form the store keeps ("v1:<keyid>:…").
	SealedCredentials    string
	Metadata             map[string]any
	EndUser              *EndUser
	Tags                 map[string]string
	WebhookURLOverride   string
	Status               string
	Errors               []ConnectionError
	Warnings             []Warning
	LastVerifiedAt       *time.Time
	CredentialsExpiresAt *time.Time
	LastFetchedAt        *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// ConsecutiveFailures counts health checks in a row that could not reach the provider.
	ConsecutiveFailures int
}

// Credentials are what the end user gave; which fields are set depends on Type.
type Credentials struct {
	Type         string `json:"type"`
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	APIKey       string `json:"apiKey,omitempty"`
	Token        string `json:"token,omitempty"`
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// ExpiresAt is when Token expires (RFC 3339), for OAUTH2_CC.
	ExpiresAt string `json:"expires_at,omitempty"`
	// ObtainedAt is when Token was fetched (RFC 3339).
	ObtainedAt string `json:"obtained_at,omitempty"`
	// Raw is the token endpoint's answer, as Nango returns it.
	Raw map[string]any `json:"raw,omitempty"`
}

// Redacted hides every secret field; use it wherever credentials might be printed.
func (c Credentials) String() string { return "Credentials{type:" + c.Type + ", <redacted>}" }

// GoString keeps %#v from printing secrets.
func (c Credentials) GoString() string { return c.String() }

// Event is one row of the operation log. It never contains a secret.
type Event struct {
	ID             int64
	EnvironmentID  int64
	IntegrationKey string
	ConnectionID   string
	Kind           string // e.g. "auth.creation", "auth.override", "auth.verify"
	Outcome        string // "success", "failure", "warning"
	Code           string
	Message        string
	At             time.Time
}

// FieldError is one problem with one submitted value. Path names where it was
// submitted, e.g. ["params","cloudId"] or ["password"].
type FieldError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Path    []string `json:"path"`
}

// UpsertOptions say what an upsert of an existing connection replaces.
type UpsertOptions struct {
	// ReplaceMetadata overwrites metadata on an existing row (imports); submissions keep it.
	ReplaceMetadata bool
}

// ConnectionFilter narrows a connection listing; zero values do not filter.
type ConnectionFilter struct {
	ConnectionID   string
	Search         string
	EndUserID      string
	EndUserOrgID   string
	IntegrationIDs []string // unique keys
	Tags           map[string]string
	Status         string
	Limit          int
	Offset         int
	// After, when set, lists the connections that come after this place in
	// the list's order (keyset paging: the next page); Before, those that
	// come before it (the previous page, still newest first).
	After, Before *ListPosition
}

// ListPosition is a place in the connection list's order (newest first):
// a connection's creation time and row id.
type ListPosition struct {
	CreatedAt time.Time
	PK        int64
}

// ConnectionPatch holds the fields PATCH /connections/{id} may change; nil means unchanged.
type ConnectionPatch struct {
	EndUser            **EndUser
	Tags               *map[string]string
	WebhookURLOverride *string
	// CredentialsExpiresAt sets the token's expiry date (a nil *time.Time clears it).
	CredentialsExpiresAt **time.Time
}

// MissingConnectionError names the connection ids an update did not find.
type MissingConnectionError struct{ IDs []string }

func (e *MissingConnectionError) Error() string {
	return "connection not found: " + strings.Join(e.IDs, ", ")
}

// Unwrap makes errors.Is(err, ErrNotFound) true.
func (e *MissingConnectionError) Unwrap() error { return ErrNotFound }

// OutboxMessage is one webhook delivery: a body for one URL, with its state.
type OutboxMessage struct {
	ID            int64
	EnvironmentID int64
	URL           string
	// Target is the receiver: WebhookTarget(URL), set by the store.
	Target        string
	EventType     string // e.g. "auth.creation"
	ConnectionID  string
	Body          []byte
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	FailedAt      *time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	AttemptLog    []WebhookAttempt
}

// WebhookTarget names the receiver of a webhook URL: scheme, host and port,
// lowercased ("https://hooks.example.com:443"). Deliveries are shared out by
// receiver, so a slow one holds back only its own messages.
func WebhookTarget(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return rawURL
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// WebhookAttempt is one try at delivering an outbox message.
type WebhookAttempt struct {
	Attempt  int
	At       time.Time
	Status   int // 0: no HTTP answer
	Error    string
	Duration time.Duration
}

// Tx is one write transaction of the store: what is done through it commits
// together or not at all (store.Write runs one).
type Tx interface {
	// UpsertConnection creates the connection or replaces its credentials in
	// place; created says which.
	UpsertConnection(ctx context.Context, in *Connection, opts UpsertOptions) (out *Connection, created bool, err error)
	// Enqueue adds webhook deliveries to the outbox.
	Enqueue(ctx context.Context, msgs []OutboxMessage) error
	// InsertEvent appends to the operation log.
	InsertEvent(ctx context.Context, e *Event) error
	// EndConnectSession deletes a connect session; ErrNotFound when it is
	// already gone (used by another submission, or deleted).
	EndConnectSession(ctx context.Context, id int64) error
}

// WebhookOutcome is what one delivery attempt led to.
type WebhookOutcome struct {
	Attempt   WebhookAttempt
	Delivered bool
	// Next is when to try again; nil with Delivered false means give up.
	Next *time.Time
}

// CheckResult is the outcome of re-verifying a connection.
type CheckResult struct {
	Status   string
	Warnings []Warning
	// Failures counts consecutive unreachable checks.
	Failures int
	// Message explains a failing status (no secrets).
	Message string
	// Verified is set when the provider answered.
	Verified bool
	Next     time.Time
	// Superseded is set when the credentials changed while they were checked:
	// the result was dropped.
	Superseded bool
}

// Outcome is what re-verifying a stored connection found.
type Outcome struct {
	// Status is ok, scope_missing or invalid_credentials; empty when the
	// provider could not be reached, which says nothing about the credentials.
	Status   string
	Warnings []Warning
	// Message explains the status (no secrets).
	Message string
}
