package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is the PostgreSQL server a run uses. Each latchkey gets a database
// of its own (latchkey_bench_<pid>_<n>), created here and dropped at the end, so
// the server's other users are untouched and the backends serving a latchkey
// can be told apart by database name for their CPU.
type pgServer struct {
	base  *url.URL
	mu    sync.Mutex
	admin *pgx.Conn
	dbs   []string
}

func openPostgres(ctx context.Context, dsn string) (*pgServer, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("-db %q: want sqlite or a postgres:// URL", dsn)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %w", u.Redacted(), err)
	}
	return &pgServer{base: u, admin: admin}, nil
}

// createDatabase creates an empty database and returns its URL.
func (p *pgServer) createDatabase(ctx context.Context) (name, dsn string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name = fmt.Sprintf("latchkey_bench_%d_%d", os.Getpid(), len(p.dbs))
	if _, err := p.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	p.dbs = append(p.dbs, name)
	u := *p.base
	u.Path = "/" + name
	return name, u.String(), nil
}

// backendCPU is the CPU time of the server processes connected to database
// name, read from /proc like every other process's. Backends that exited
// are no longer counted; latchkey's pool keeps its connections open, so in
// practice none do during a measurement.
func (p *pgServer) backendCPU(name string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := p.admin.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", name)
	if err != nil {
		return 0
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, pid := range pids {
		sum += procCPU(int(pid))
	}
	return sum
}

// close drops every database this run created (their latchkeys must be
// stopped first; FORCE ends any session still connected).
func (p *pgServer) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []string
	for _, name := range p.dbs {
		if _, err := p.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			errs = append(errs, err.Error())
		}
	}
	p.dbs = nil
	_ = p.admin.Close(ctx)
	if len(errs) > 0 {
		return fmt.Errorf("drop bench databases: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (p *pgServer) version(ctx context.Context) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var v string
	if err := p.admin.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "unknown"
	}
	var sc string
	_ = p.admin.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc)
	return "PostgreSQL " + v + ", synchronous_commit=" + sc
}
