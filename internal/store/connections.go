package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/secret"
)

const connectionColumns = `c.id, c.environment_id, c.integration_id, i.unique_key, c.connection_id, c.provider, c.connection_config, c.credentials,
	c.metadata, c.has_end_user, c.end_user_id, c.end_user_email, c.end_user_display_name, c.end_user_org_id, c.end_user_org_display_name, c.end_user_tags,
	c.tags, c.webhook_url_override, c.status, c.errors, c.warnings, c.last_verified_at, c.credentials_expires_at, c.last_fetched_at, c.created_at, c.updated_at,
	c.consecutive_failures`

const connectionFrom = ` FROM connections c JOIN integrations i ON i.id = c.integration_id`

func scanConnection(row interface{ Scan(...any) error }) (*domain.Connection, error) {
	var c domain.Connection
	var cfg, euTags, tags, errs, warnings string
	var metadata sql.NullString
	var hasEU int
	var eu domain.EndUser
	var verified, expires, fetched sql.NullInt64
	var created, updated int64
	if err := row.Scan(&c.ID, &c.EnvironmentID, &c.IntegrationID, &c.IntegrationKey, &c.ConnectionID, &c.Provider, &cfg, &c.SealedCredentials,
		&metadata, &hasEU, &eu.ID, &eu.Email, &eu.DisplayName, &eu.OrganizationID, &eu.OrganizationDisplayName, &euTags,
		&tags, &c.WebhookURLOverride, &c.Status, &errs, &warnings, &verified, &expires, &fetched, &created, &updated, &c.ConsecutiveFailures); err != nil {
		return nil, mapErr(err)
	}
	if hasEU != 0 {
		if err := fromJSON(euTags, &eu.Tags); err != nil {
			return nil, err
		}
		c.EndUser = &eu
	}
	if metadata.Valid {
		if err := fromJSON(metadata.String, &c.Metadata); err != nil {
			return nil, err
		}
	}
	if err := fromJSONPairs(cfg, &c.ConnectionConfig, tags, &c.Tags, errs, &c.Errors, warnings, &c.Warnings); err != nil {
		return nil, err
	}
	c.LastVerifiedAt, c.CredentialsExpiresAt, c.LastFetchedAt = fromNullMS(verified), fromNullMS(expires), fromNullMS(fetched)
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return &c, nil
}

type endUserCols struct {
	has                                       int
	id, email, name, orgID, orgName, tagsJSON string
}

func endUserColumns(eu *domain.EndUser) endUserCols {
	if eu == nil {
		return endUserCols{tagsJSON: "{}"}
	}
	return endUserCols{1, eu.ID, eu.Email, eu.DisplayName, eu.OrganizationID, eu.OrganizationDisplayName, mustJSON(nonNilMap(eu.Tags))}
}

func nullableJSON(m map[string]any) sql.NullString {
	if m == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: mustJSON(m), Valid: true}
}

// UpsertConnection creates the connection or, if (integration, connection id)
// exists, replaces its credentials, config, status and warnings in place, keeping
// its id, creation time and metadata (unless opts say otherwise). End user, tags and
// webhook override are replaced only when in carries them. created reports which.
// To write webhooks or events with the change, use Write.
func (s *Store) UpsertConnection(ctx context.Context, in *domain.Connection, opts domain.UpsertOptions) (out *domain.Connection, created bool, err error) {
	err = s.Write(ctx, func(tx domain.Tx) error {
		out, created, err = tx.UpsertConnection(ctx, in, opts)
		return err
	})
	return out, created, err
}

// upsertConnection is UpsertConnection inside tx.
func (s *Store) upsertConnection(ctx context.Context, tx *sql.Tx, in *domain.Connection, opts domain.UpsertOptions) (out *domain.Connection, created bool, err error) {
	keyID, err := secret.CiphertextKeyID(in.SealedCredentials)
	if err != nil {
		return nil, false, fmt.Errorf("store: upsert connection: credentials are not sealed: %w", err)
	}
	now := ms(s.now())
	eu := endUserColumns(in.EndUser)
	status := in.Status
	if status == "" {
		status = domain.StatusOK
	}
	errs := in.Errors
	if errs == nil {
		errs = []domain.ConnectionError{}
	}
	warnings := in.Warnings
	if warnings == nil {
		warnings = []domain.Warning{}
	}
	err = func() error {
		// Insert unless the row exists; ON CONFLICT DO NOTHING makes a concurrent
		// insert of the same connection wait and then fall through to the update,
		// instead of failing on the unique key.
		var pk int64
		err := s.txRow(ctx, tx, `INSERT INTO connections (environment_id, integration_id, connection_id, provider, connection_config, credentials, credentials_key_id,
				metadata, has_end_user, end_user_id, end_user_email, end_user_display_name, end_user_org_id, end_user_org_display_name, end_user_tags,
				tags, webhook_url_override, status, errors, warnings, last_verified_at, credentials_expires_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (integration_id, connection_id) DO NOTHING RETURNING id`,
			in.EnvironmentID, in.IntegrationID, in.ConnectionID, in.Provider, mustJSON(nonNilMap(in.ConnectionConfig)), in.SealedCredentials, keyID,
			nullableJSON(in.Metadata), eu.has, eu.id, eu.email, eu.name, eu.orgID, eu.orgName, eu.tagsJSON,
			mustJSON(nonNilMap(in.Tags)), in.WebhookURLOverride, status, mustJSON(errs), mustJSON(warnings),
			toNullMS(in.LastVerifiedAt), toNullMS(in.CredentialsExpiresAt), now, now).Scan(&pk)
		switch {
		case err == nil:
			created = true
		case !errors.Is(err, sql.ErrNoRows):
			return err
		default:
			if err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM connections WHERE integration_id = ? AND connection_id = ?`), in.IntegrationID, in.ConnectionID).Scan(&pk); err != nil {
				return err
			}
			// New credentials: the health history and expiry notices start over.
			sets := []string{`provider = ?`, `connection_config = ?`, `credentials = ?`, `credentials_key_id = ?`, `status = ?`, `errors = ?`, `warnings = ?`,
				`last_verified_at = ?`, `credentials_expires_at = ?`, `updated_at = ?`, `next_check_at = NULL`, `consecutive_failures = 0`, `expiry_notified_days = NULL`}
			args := []any{in.Provider, mustJSON(nonNilMap(in.ConnectionConfig)), in.SealedCredentials, keyID, status, mustJSON(errs), mustJSON(warnings),
				toNullMS(in.LastVerifiedAt), toNullMS(in.CredentialsExpiresAt), now}
			if opts.ReplaceMetadata {
				sets = append(sets, `metadata = ?`)
				args = append(args, nullableJSON(in.Metadata))
			}
			if in.EndUser != nil {
				sets = append(sets, `has_end_user = ?`, `end_user_id = ?`, `end_user_email = ?`, `end_user_display_name = ?`, `end_user_org_id = ?`, `end_user_org_display_name = ?`, `end_user_tags = ?`)
				args = append(args, eu.has, eu.id, eu.email, eu.name, eu.orgID, eu.orgName, eu.tagsJSON)
			}
			if len(in.Tags) > 0 {
				sets = append(sets, `tags = ?`)
				args = append(args, mustJSON(in.Tags))
			}
			if in.WebhookURLOverride != "" {
				sets = append(sets, `webhook_url_override = ?`)
				args = append(args, in.WebhookURLOverride)
			}
			args = append(args, pk)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET `+strings.Join(sets, ", ")+` WHERE id = ?`), args...); err != nil {
				return err
			}
		}
		// A new row has no tags yet (they go with their connection: ON DELETE CASCADE).
		if len(in.Tags) > 0 {
			if err := s.writeTags(ctx, tx, pk, in.Tags, created); err != nil {
				return err
			}
		}
		out, err = scanConnection(s.txRow(ctx, tx, `SELECT `+connectionColumns+connectionFrom+` WHERE c.id = ?`, pk))
		return err
	}()
	if err != nil {
		return nil, false, fmt.Errorf("store: upsert connection %s: %w", in.ConnectionID, err)
	}
	return out, created, nil
}

// writeTags replaces a connection's tags (fresh: it has none yet).
func (s *Store) writeTags(ctx context.Context, tx *sql.Tx, pk int64, tags map[string]string, fresh bool) error {
	if !fresh {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM connection_tags WHERE connection_pk = ?`), pk); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, err := s.txExec(ctx, tx, `INSERT INTO connection_tags (connection_pk, key, value) VALUES (?, ?, ?)`, pk, k, tags[k]); err != nil {
			return err
		}
	}
	return nil
}

// Connection loads one connection by integration and connection id.
func (s *Store) Connection(ctx context.Context, envID, integrationID int64, connectionID string) (*domain.Connection, error) {
	out, err := scanConnection(s.readRow(ctx, `SELECT `+connectionColumns+connectionFrom+` WHERE c.environment_id = ? AND c.integration_id = ? AND c.connection_id = ?`,
		envID, integrationID, connectionID))
	if err != nil {
		return nil, fmt.Errorf("store: connection %s: %w", connectionID, err)
	}
	return out, nil
}

// ListConnections returns matching connections, newest first (ties broken by id).
func (s *Store) ListConnections(ctx context.Context, envID int64, f domain.ConnectionFilter) ([]*domain.Connection, error) {
	query, args := s.listQuery(envID, f)
	out, err := readAll(ctx, s, "list connections", query, scanConnection, args...)
	if err != nil {
		return nil, err
	}
	if f.After == nil && f.Before != nil {
		slices.Reverse(out)
	}
	return out, nil
}

// listQuery is ListConnections' SQL and arguments.
func (s *Store) listQuery(envID int64, f domain.ConnectionFilter) (string, []any) {
	where := []string{`c.environment_id = ?`}
	args := []any{envID}
	if f.ConnectionID != "" {
		where = append(where, `c.connection_id = ?`)
		args = append(args, f.ConnectionID)
	}
	if f.Search != "" {
		like := "%" + escapeLike(strings.ToLower(f.Search)) + "%"
		where = append(where, `(LOWER(c.connection_id) LIKE ? ESCAPE '\' OR LOWER(c.end_user_display_name) LIKE ? ESCAPE '\' OR LOWER(c.end_user_email) LIKE ? ESCAPE '\')`)
		args = append(args, like, like, like)
	}
	if f.EndUserID != "" {
		where = append(where, `c.end_user_id = ?`)
		args = append(args, f.EndUserID)
	}
	if f.EndUserOrgID != "" {
		where = append(where, `c.end_user_org_id = ?`)
		args = append(args, f.EndUserOrgID)
	}
	switch len(f.IntegrationIDs) {
	case 0:
	case 1:
		// One integration: a range of its own index, in the list's order.
		where = append(where, `c.integration_id = (SELECT id FROM integrations WHERE environment_id = ? AND unique_key = ?)`)
		args = append(args, envID, f.IntegrationIDs[0])
	default:
		// Several: one JSON parameter, however many keys, so the query's text
		// stays one of a fixed set and its prepared statement is reused.
		where = append(where, `c.integration_id IN (SELECT id FROM integrations WHERE environment_id = ? AND `+s.inJSONArray("unique_key")+`)`)
		args = append(args, envID, mustJSON(f.IntegrationIDs))
	}
	if f.Status != "" {
		where = append(where, `c.status = ?`)
		args = append(args, f.Status)
	}
	switch len(f.Tags) {
	case 0:
	case 1:
		// The connections having the pair, read from the (key, value,
		// connection) index alone.
		for k, v := range f.Tags {
			where = append(where, `c.id IN (SELECT connection_pk FROM connection_tags WHERE key = ? AND value = ?)`)
			args = append(args, k, v)
		}
	default:
		// Every tag must match: the connections having as many of the pairs
		// as were asked for (a connection has each key once), the pairs in
		// one JSON parameter.
		where = append(where, `c.id IN (SELECT t.connection_pk FROM connection_tags t JOIN `+s.jsonObjectPairs()+` f ON t.key = f.key AND t.value = f.value
			GROUP BY t.connection_pk HAVING COUNT(*) = ?)`)
		args = append(args, mustJSON(f.Tags), len(f.Tags))
	}
	// Keyset paging: a row-value comparison on the order's own columns, a
	// range of the same indexes the order walks.
	order := ` ORDER BY c.created_at DESC, c.id DESC`
	switch {
	case f.After != nil:
		where = append(where, `(c.created_at, c.id) < (?, ?)`)
		args = append(args, ms(f.After.CreatedAt), f.After.PK)
	case f.Before != nil:
		// The page before: the nearest rows above, read upwards, turned round below.
		where = append(where, `(c.created_at, c.id) > (?, ?)`)
		args = append(args, ms(f.Before.CreatedAt), f.Before.PK)
		order = ` ORDER BY c.created_at, c.id`
	}
	query := `SELECT ` + connectionColumns + connectionFrom + ` WHERE ` + strings.Join(where, " AND ") + order + ` LIMIT ? OFFSET ?`
	limit := f.Limit
	if limit <= 0 {
		limit = 10000
	}
	args = append(args, limit, f.Offset)
	return query, args
}

// ExplainListConnections returns the database's plan for ListConnections
// with f (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), one step
// per line: docs/database.md shows them, a test checks each filter is
// served by an index.
func (s *Store) ExplainListConnections(ctx context.Context, envID int64, f domain.ConnectionFilter) (string, error) {
	query, args := s.listQuery(envID, f)
	return s.explain(ctx, query, args...)
}

// explain returns the plan the database picks for query (with ?
// placeholders): SQLite's EXPLAIN QUERY PLAN steps, PostgreSQL's EXPLAIN lines.
func (s *Store) explain(ctx context.Context, query string, args ...any) (string, error) {
	explain := `EXPLAIN QUERY PLAN `
	if s.dialect == "postgres" {
		explain = `EXPLAIN `
	}
	rows, err := s.db.QueryContext(ctx, explain+s.q(query), args...)
	if err != nil {
		return "", fmt.Errorf("store: explain: %w", mapErr(err))
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		lines = append(lines, fmt.Sprint(vals[len(vals)-1])) // the step's text (SQLite: id, parent, notused, detail)
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// inJSONArray is the condition that column is one of the strings of a JSON
// array given as one parameter.
func (s *Store) inJSONArray(column string) string {
	if s.dialect == "postgres" {
		return column + ` IN (SELECT jsonb_array_elements_text(?::jsonb))`
	}
	return column + ` IN (SELECT value FROM json_each(?))`
}

// jsonObjectPairs is a table of (key, value) text pairs read from a JSON
// object given as one parameter.
func (s *Store) jsonObjectPairs() string {
	if s.dialect == "postgres" {
		return `jsonb_each_text(?::jsonb)`
	}
	return `json_each(?)`
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DeleteConnection removes a connection.
func (s *Store) DeleteConnection(ctx context.Context, envID, integrationID int64, connectionID string) error {
	res, err := s.wdb.ExecContext(ctx, s.q(`DELETE FROM connections WHERE environment_id = ? AND integration_id = ? AND connection_id = ?`), envID, integrationID, connectionID)
	if err != nil {
		return fmt.Errorf("store: delete connection %s: %w", connectionID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete connection %s: %w", connectionID, domain.ErrNotFound)
	}
	return nil
}

// PatchConnection applies a patch.
func (s *Store) PatchConnection(ctx context.Context, envID, integrationID int64, connectionID string, p domain.ConnectionPatch) error {
	sets := []string{`updated_at = ?`}
	args := []any{ms(s.now())}
	if p.EndUser != nil {
		eu := endUserColumns(*p.EndUser)
		sets = append(sets, `has_end_user = ?`, `end_user_id = ?`, `end_user_email = ?`, `end_user_display_name = ?`, `end_user_org_id = ?`, `end_user_org_display_name = ?`, `end_user_tags = ?`)
		args = append(args, eu.has, eu.id, eu.email, eu.name, eu.orgID, eu.orgName, eu.tagsJSON)
	}
	if p.Tags != nil {
		sets = append(sets, `tags = ?`)
		args = append(args, mustJSON(nonNilMap(*p.Tags)))
	}
	if p.WebhookURLOverride != nil {
		sets = append(sets, `webhook_url_override = ?`)
		args = append(args, *p.WebhookURLOverride)
	}
	if p.CredentialsExpiresAt != nil {
		// A new expiry date: its notices start over.
		sets = append(sets, `credentials_expires_at = ?`, `expiry_notified_days = NULL`)
		args = append(args, toNullMS(*p.CredentialsExpiresAt))
	}
	args = append(args, envID, integrationID, connectionID)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var pk int64
		if err := tx.QueryRowContext(ctx, s.q(`UPDATE connections SET `+strings.Join(sets, ", ")+` WHERE environment_id = ? AND integration_id = ? AND connection_id = ? RETURNING id`), args...).Scan(&pk); err != nil {
			return err
		}
		if p.Tags != nil {
			return s.writeTags(ctx, tx, pk, *p.Tags, false)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: patch connection %s: %w", connectionID, err)
	}
	return nil
}

// SetMetadata replaces (merge=false) or shallow-merges (merge=true) the metadata of
// every listed connection, all or nothing.
func (s *Store) SetMetadata(ctx context.Context, envID, integrationID int64, connectionIDs []string, metadata map[string]any, merge bool) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		current := make(map[string]map[string]any, len(connectionIDs))
		var missing []string
		for _, id := range connectionIDs {
			var md sql.NullString
			err := tx.QueryRowContext(ctx, s.q(`SELECT metadata FROM connections WHERE environment_id = ? AND integration_id = ? AND connection_id = ?`), envID, integrationID, id).Scan(&md)
			if errors.Is(err, sql.ErrNoRows) {
				missing = append(missing, id)
				continue
			}
			if err != nil {
				return err
			}
			m := map[string]any{}
			if md.Valid {
				if err := fromJSON(md.String, &m); err != nil {
					return err
				}
			}
			current[id] = m
		}
		if len(missing) > 0 {
			return &domain.MissingConnectionError{IDs: missing}
		}
		now := ms(s.now())
		for _, id := range connectionIDs {
			next := metadata
			if merge {
				next = current[id]
				for k, v := range metadata {
					next[k] = v
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE connections SET metadata = ?, updated_at = ? WHERE environment_id = ? AND integration_id = ? AND connection_id = ?`),
				mustJSON(nonNilMap(next)), now, envID, integrationID, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set metadata: %w", err)
	}
	return nil
}

// MarkFetched records that the connection's credentials were read at t. It writes
// only when the recorded time is older than a minute, so hot reads stay read-only.
func (s *Store) MarkFetched(ctx context.Context, pk int64, t time.Time) error {
	_, err := s.wdb.ExecContext(ctx, s.q(`UPDATE connections SET last_fetched_at = ? WHERE id = ? AND (last_fetched_at IS NULL OR last_fetched_at < ?)`),
		ms(t), pk, ms(t.Add(-time.Minute)))
	if err != nil {
		return fmt.Errorf("store: mark fetched: %w", mapErr(err))
	}
	return nil
}

// UpdateCredentials replaces a connection's sealed credentials (a fetched
// OAuth token) and nothing else: its status, health history and updated_at
// stay, since the credentials the end user gave did not change.
func (s *Store) UpdateCredentials(ctx context.Context, pk int64, sealed string) error {
	keyID, err := secret.CiphertextKeyID(sealed)
	if err != nil {
		return fmt.Errorf("store: update credentials: not sealed: %w", err)
	}
	res, err := s.wdb.ExecContext(ctx, s.q(`UPDATE connections SET credentials = ?, credentials_key_id = ? WHERE id = ?`), sealed, keyID, pk)
	if err != nil {
		return fmt.Errorf("store: update credentials: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: update credentials of %d: %w", pk, domain.ErrNotFound)
	}
	return nil
}
