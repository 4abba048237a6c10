// Package store persists latchkey's data. One concrete *Store runs on SQLite
// (modernc.org/sqlite, pure Go, WAL). SQL lives beside the method that runs it;
// migrations are embedded .sql files per dialect. Not-found is domain.ErrNotFound.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrationsFS embed.FS

// Store is latchkey's database. Reads go to a pool; on SQLite every write goes
// through a single connection, so writers queue in Go instead of failing with
// SQLITE_BUSY, and each write transaction takes the lock up front (BEGIN IMMEDIATE).
type Store struct {
	db      *sql.DB // reads
	wdb     *sql.DB // writes (same pool as db on PostgreSQL)
	dialect string
	path    string // the SQLite file
	now     func() time.Time

	stmtMu     sync.RWMutex
	stmts      map[string]*sql.Stmt // prepared read statements, by query text
	unprepared atomic.Int64         // reads run unprepared: the cache was full
	wstmts     map[string]*sql.Stmt // prepared write statements (SQLite), by query text
	wanted     map[string]bool      // write statements to prepare before the next transaction

	group        group      // SQLite's write transactions, committed together (group.go)
	cache        *readCache // integrations and environments (cache.go)
	noticeFailed func()
}

// readConns is the size of the SQLite read pool, every connection kept open.
const readConns = 8

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create %s: %w", dir, err)
		}
	}
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	// auto_vacuum is set first, before anything creates a table: a new file
	// keeps its free pages' list, so the retention job can give the space of
	// purged rows back (Reclaim). On an existing file it changes nothing by
	// itself (Reclaim converts such a file once).
	wdb, err := sql.Open("sqlite", "file:"+path+"?_pragma=auto_vacuum(INCREMENTAL)&"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The file is created by the ping above; keep it private.
	_ = os.Chmod(path, 0o600)
	rdb, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// Readers keep their connections (database/sql keeps 2 idle ones by
	// default): a new SQLite connection costs a file open, a schema read and
	// the statements prepared again, so under concurrency the pool would spend
	// its time opening connections.
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	rdb.SetConnMaxIdleTime(0)
	rdb.SetConnMaxLifetime(0)
	return &Store{db: rdb, wdb: wdb, dialect: "sqlite", path: path, now: time.Now, stmts: map[string]*sql.Stmt{}, wstmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}, cache: newReadCache()}, nil
}

// maxStmts bounds the statement cache. Every query text the store sends is
// one of a fixed set (lists and tag filters travel as one JSON parameter,
// optional filters only switch parts of a query on or off), so the cache never
// fills; if it did, the overflow would run unprepared rather than leak
// statements on the database's connections.
const maxStmts = 256

// prepared returns the cached prepared read statement for query, preparing it
// once; nil when the cache is full. Parsing SQL is a large share of a small
// read's cost.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	return s.cachedStmt(ctx, false, query)
}

// cachedStmt is query prepared on the read pool, or on the write connection
// (write), from that one's cache; nil when the cache is full, for the caller
// to run the text unprepared rather than leave a statement nobody closes.
func (s *Store) cachedStmt(ctx context.Context, write bool, query string) (*sql.Stmt, error) {
	db, cache := s.db, func() map[string]*sql.Stmt { return s.stmts } // read under stmtMu: Close replaces them
	if write {
		db, cache = s.wdb, func() map[string]*sql.Stmt { return s.wstmts }
	}
	s.stmtMu.RLock()
	st, ok := cache()[query]
	full := len(cache()) >= maxStmts
	s.stmtMu.RUnlock()
	if ok {
		return st, nil
	}
	if full {
		s.unprepared.Add(1)
		return nil, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if prev, ok := cache()[query]; ok {
		st.Close()
		return prev, nil
	}
	if len(cache()) >= maxStmts {
		st.Close()
		s.unprepared.Add(1)
		return nil, nil
	}
	cache()[query] = st
	return st, nil
}

// StatementStats says how many statements are prepared and cached (reads,
// and on SQLite writes), and how many ran unprepared because a cache was full
// (tests and diagnostics: the second stays 0 while the query texts are a
// fixed set).
func (s *Store) StatementStats() (cached int, unprepared int64) {
	s.stmtMu.RLock()
	defer s.stmtMu.RUnlock()
	return len(s.stmts) + len(s.wstmts), s.unprepared.Load()
}

// On SQLite every write goes through one connection, where the driver would
// parse each statement again every time (a large share of a creation's
// cost): wstmts keeps the busiest ones prepared on it. PostgreSQL's driver
// keeps prepared statements per connection by itself. Like prepared, it
// returns nil when the cache is full.
func (s *Store) wprepared(ctx context.Context, query string) (*sql.Stmt, error) {
	return s.cachedStmt(ctx, true, query)
}

// txStmt is query ready to run in tx, from the write statement cache on
// SQLite; nil means as text (q is applied by the callers below, and applying
// it twice changes nothing): always on PostgreSQL, and on SQLite the first
// time, as a statement cannot be prepared for the cache while the one write
// connection is in a transaction; the next transaction prepares it before
// it begins (prepareWanted).
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if s.dialect == "postgres" {
		return nil
	}
	s.stmtMu.RLock()
	st, ok := s.wstmts[query]
	full := len(s.wstmts) >= maxStmts
	s.stmtMu.RUnlock()
	if ok {
		return tx.StmtContext(ctx, st)
	}
	if full { // it runs as text, now and every time
		s.unprepared.Add(1)
		return nil
	}
	s.stmtMu.Lock()
	if len(s.wanted) < maxStmts {
		s.wanted[query] = true
	}
	s.stmtMu.Unlock()
	return nil
}

// prepareWanted prepares the statements transactions ran as text, outside
// any transaction of this goroutine. A failure only leaves them as text.
func (s *Store) prepareWanted(ctx context.Context) {
	s.stmtMu.RLock()
	n := len(s.wanted)
	s.stmtMu.RUnlock()
	if n == 0 {
		return
	}
	s.stmtMu.Lock()
	queries := make([]string, 0, len(s.wanted))
	for q := range s.wanted {
		queries = append(queries, q)
	}
	clear(s.wanted)
	s.stmtMu.Unlock()
	for _, q := range queries {
		_, _ = s.wprepared(ctx, q)
	}
}

// txExec runs a write statement in tx (txStmt).
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st := s.txStmt(ctx, tx, query)
	if st == nil {
		return tx.ExecContext(ctx, s.q(query), args...)
	}
	return st.ExecContext(ctx, args...)
}

// txRow runs a single-row statement in tx (txStmt).
func (s *Store) txRow(ctx context.Context, tx *sql.Tx, query string, args ...any) interface{ Scan(...any) error } {
	st := s.txStmt(ctx, tx, query)
	if st == nil {
		return tx.QueryRowContext(ctx, s.q(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// readRow runs a single-row read through the statement cache.
func (s *Store) readRow(ctx context.Context, query string, args ...any) interface{ Scan(...any) error } {
	query = s.q(query)
	st, err := s.prepared(ctx, query)
	if err != nil {
		return errRow{err}
	}
	if st == nil {
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readAll runs a read and scans every row with scan (never a nil slice);
// what names the read in its error.
func readAll[T any](ctx context.Context, s *Store, what, query string, scan func(row interface{ Scan(...any) error }) (T, error), args ...any) ([]T, error) {
	rows, err := s.read(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, mapErr(err))
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// read runs a multi-row read through the statement cache.
func (s *Store) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = s.q(query)
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// Close releases the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range s.wstmts {
		st.Close()
	}
	s.stmts, s.wstmts = map[string]*sql.Stmt{}, map[string]*sql.Stmt{}
	s.stmtMu.Unlock()
	err := s.wdb.Close()
	if s.db != s.wdb {
		err = errors.Join(err, s.db.Close())
	}
	return err
}

// Dialect names the database in use ("sqlite" or "postgres").
func (s *Store) Dialect() string { return s.dialect }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

func (s *Store) migrations() ([]Migration, error) {
	dir := "migrations/" + s.dialect
	entries, err := fs.ReadDir(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: name must start with a number", name)
		}
		b, err := migrationsFS.ReadFile(dir + "/" + name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies every migration not yet applied, each in its own
// transaction. On PostgreSQL it holds an advisory lock meanwhile, so instances
// starting together migrate one after the other. It returns how many it applied.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrate: %w", mapErr(err))
	}
	defer conn.Close()
	if s.dialect == "postgres" {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
			return 0, fmt.Errorf("store: migration lock: %w", mapErr(err))
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockID)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("store: migrations table: %w", mapErr(err))
	}
	all, err := s.migrations()
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range all {
		err := func() error {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if s.dialect == "postgres" {
				// A migration may build an index over a table that grew for
				// months (0008 indexes the operation log): the pool's
				// statement_timeout is for requests, not for this.
				if _, err := tx.ExecContext(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.Version, m.Name, ms(s.now())); err != nil {
				return err
			}
			applied++
			return tx.Commit()
		}()
		if err != nil {
			return applied, fmt.Errorf("store: migrate: %w", mapErr(err))
		}
	}
	return applied, nil
}

// MigrationStatus lists every embedded migration and whether it is applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]Migration, map[int]time.Time, error) {
	all, err := s.migrations()
	if err != nil {
		return nil, nil, err
	}
	applied := map[int]time.Time{}
	rows, err := s.db.QueryContext(ctx, `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "does not exist") {
			return all, applied, nil
		}
		return nil, nil, fmt.Errorf("store: migration status: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			return nil, nil, err
		}
		applied[v] = fromMS(at)
	}
	return all, applied, rows.Err()
}

// q rewrites ? placeholders for the dialect.
func (s *Store) q(query string) string {
	if s.dialect != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.dialect != "postgres" {
		return s.grouped(ctx, fn) // group.go
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return mapErr(err)
	}
	return mapErr(tx.Commit())
}

func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrNotFound
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "duplicate key value") {
		return fmt.Errorf("%w: %v", domain.ErrConflict, err)
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %v", domain.ErrUnavailable, err)
	}
	return err
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func toNullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(*t), Valid: true}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: marshal %T: %v", v, err)) // only plain maps and slices reach here
	}
	return string(b)
}

func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// fromJSONPairs decodes (column text, destination) pairs.
func fromJSONPairs(pairs ...any) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := fromJSON(pairs[i].(string), pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// GetSetting reads a value from the settings table.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.readRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", key, mapErr(err))
	}
	return v, nil
}

// SetSetting writes a value to the settings table.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`), key, value)
	if err != nil {
		return fmt.Errorf("store: set setting %s: %w", key, mapErr(err))
	}
	return nil
}

// CredentialKeyIDs lists the distinct key ids that sealed stored credentials.
func (s *Store) CredentialKeyIDs(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT credentials_key_id FROM connections`)
	if err != nil {
		return nil, fmt.Errorf("store: key ids: %w", mapErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DB exposes the read pool for tests and diagnostics.
func (s *Store) DB() *sql.DB { return s.db }

// SetClock replaces the clock used for timestamps (tests inject one).
func (s *Store) SetClock(now func() time.Time) { s.now = now }
