package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgresOptions tune the PostgreSQL pool.
type PostgresOptions struct {
	MaxConns         int           // default 20
	ConnectTimeout   time.Duration // default 5 s
	StatementTimeout time.Duration // default 15 s; 0 keeps the server's
	// SearchPath, when set, is the schema latchkey uses (tests isolate runs this way).
	SearchPath string
}

// OpenPostgres connects to PostgreSQL through pgx.
func OpenPostgres(ctx context.Context, url string, o PostgresOptions) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: LATCHKEY_DATABASE_URL: %w", err)
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.MaxConns == 0 {
		o.MaxConns = 20
	}
	if o.StatementTimeout == 0 {
		o.StatementTimeout = 15 * time.Second
	}
	cfg.ConnectTimeout = o.ConnectTimeout
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	cfg.RuntimeParams["application_name"] = "latchkey"
	if o.SearchPath != "" {
		cfg.RuntimeParams["search_path"] = o.SearchPath
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	return &Store{db: db, wdb: db, dialect: "postgres", now: time.Now, stmts: map[string]*sql.Stmt{}, wstmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}, cache: newReadCache()}, nil
}

// migrationLockID is the advisory lock instances take while migrating.
const migrationLockID = 0x6c6174636b6579 // "latckey"

// isUnavailable reports whether err means the database cannot be reached now
// (as opposed to a bad query): refused or reset connections, timeouts on
// connect, a server shutting down.
func isUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection exceptions
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || strings.HasPrefix(pe.Code, "08")
	}
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset")
}
