package store

import (
	"context"

	"errors"
	"fmt"
	"strings"
)

// CopyStats says what Copy did with one table.
type CopyStats struct {
	Table           string
	Copied, Skipped int
}

// copyTables lists tables parents first, with every one of their columns
// (TestCopyMovesEveryColumn compares them with both dialects' schemas after
// migrating, so a migration that adds a column fails it until the column is
// listed here). Ids are copied as they are, so references and sealed
// credentials (bound to environment and integration ids) stay valid.
var copyTables = []struct{ name, columns string }{
	{"settings", "key, value"},
	{"environments", "id, name, secret_key_hash, webhook_url, webhook_secondary_url, webhook_signing_key, created_at, updated_at"},
	{"secret_keys", "id, environment_id, digest, label, created_at, last_used_at, revoked_at"},
	{"integrations", "id, environment_id, unique_key, provider, display_name, forward_webhooks, config, created_at, updated_at"},
	{"connect_sessions", "id, environment_id, token_hash, end_user, allowed_integrations, config_defaults, overrides, webhook_url_override, tags, reconnect_integration, reconnect_connection_id, expires_at, created_at, " +
		"attempt_tokens, attempt_at"},
	{"connections", "id, environment_id, integration_id, connection_id, provider, connection_config, credentials, credentials_key_id, metadata, end_user_id, end_user_email, end_user_display_name, end_user_org_id, end_user_org_display_name, end_user_tags, has_end_user, tags, webhook_url_override, status, errors, warnings, last_verified_at, credentials_expires_at, last_fetched_at, created_at, updated_at, " +
		"next_check_at, check_locked_until, consecutive_failures, expiry_notified_days"},
	{"connection_tags", "connection_pk, key, value"},
	{"events", "id, environment_id, integration_key, connection_id, kind, outcome, code, message, at"},
	{"webhook_outbox", "id, environment_id, url, target, event_type, connection_id, body, attempts, next_attempt_at, locked_until, delivered_at, failed_at, last_status, last_error, created_at"},
	{"webhook_attempts", "id, outbox_id, attempt, at, status, error, duration_ms"},
	{"console_sessions", "id, digest, environment_id, secret_key_id, created_at, last_seen_at, expires_at"},
	{"audit_log", "id, environment_id, secret_key_id, via, action, target, detail, client, at"},
}

// notCopied are the tables Copy leaves alone, and why.
var notCopied = map[string]string{
	"schema_migrations": "the target records its own migrations as it applies them",
	"leases":            "leases belong to the instances running on a database; the target's instances take their own",
}

// CopyTable is one table Copy moves, with its columns.
type CopyTable struct {
	Name    string
	Columns []string
}

// CopyPlan lists the tables Copy moves (parents first, with their columns)
// and those it leaves alone with the reason.
func CopyPlan() ([]CopyTable, map[string]string) {
	out := make([]CopyTable, 0, len(copyTables))
	for _, t := range copyTables {
		ct := CopyTable{Name: t.name}
		for _, c := range strings.Split(t.columns, ",") {
			ct.Columns = append(ct.Columns, strings.TrimSpace(c))
		}
		out = append(out, ct)
	}
	skipped := make(map[string]string, len(notCopied))
	for k, v := range notCopied {
		skipped[k] = v
	}
	return out, skipped
}

// Copy copies every row of src into dst (migrated), skipping rows dst already
// has, so it is safe to run again. progress is called as rows go.
func Copy(ctx context.Context, src, dst *Store, progress func(table string, done, total int)) ([]CopyStats, error) {
	var out []CopyStats
	for _, t := range copyTables {
		var total int
		if err := src.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.name).Scan(&total); err != nil {
			return out, fmt.Errorf("count %s: %w", t.name, err)
		}
		rows, err := src.db.QueryContext(ctx, `SELECT `+t.columns+` FROM `+t.name)
		if err != nil {
			return out, fmt.Errorf("read %s: %w", t.name, err)
		}
		n := len(strings.Split(t.columns, ","))
		insert := dst.q(`INSERT INTO ` + t.name + ` (` + t.columns + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + `) ON CONFLICT DO NOTHING`)
		st := CopyStats{Table: t.name}
		err = func() error {
			defer rows.Close()
			tx, err := dst.wdb.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			done := 0
			for rows.Next() {
				vals := make([]any, n)
				ptrs := make([]any, n)
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				for i, v := range vals {
					if b, ok := v.([]byte); ok {
						vals[i] = string(b)
					}
				}
				res, err := tx.ExecContext(ctx, insert, vals...)
				if err != nil {
					return fmt.Errorf("write %s: %w", t.name, err)
				}
				if k, _ := res.RowsAffected(); k > 0 {
					st.Copied++
				} else {
					st.Skipped++
				}
				done++
				if progress != nil && (done%500 == 0 || done == total) {
					progress(t.name, done, total)
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if progress != nil && total == 0 {
				progress(t.name, 0, 0)
			}
			return tx.Commit()
		}()
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	// Identity sequences must continue after the copied ids.
	if dst.dialect == "postgres" {
		for _, t := range copyTables {
			if !strings.HasPrefix(t.columns, "id,") {
				continue
			}
			if _, err := dst.wdb.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'), COALESCE((SELECT MAX(id) FROM `+t.name+`), 0) + 1, false)`); err != nil {
				return out, fmt.Errorf("sequence of %s: %w", t.name, err)
			}
		}
	}
	return out, nil
}

// Backup writes a consistent copy of a SQLite database to path (VACUUM INTO
// works while others read and write).
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.dialect != "sqlite" {
		return errors.New("latchkey backup copies SQLite databases; back PostgreSQL up with pg_dump")
	}
	if _, err := s.wdb.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}
