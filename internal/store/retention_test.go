package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// A SQLite file made before latchkey set auto_vacuum=INCREMENTAL cannot cut
// free pages off its end: Reclaim leaves it alone (it never runs the VACUUM
// that would hold every writer back), ConvertForReclaim converts it once, and
// from then on it gives purged space back like a new file.
func TestReclaimConvertsAnOldFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	// An old file: a table exists before anything asks for auto_vacuum.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE made_by_an_old_version (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	s, err := store.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	mode := func() int {
		// A connection of its own: the read pool's may remember the header
		// they first read.
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var m int
		if err := db.QueryRow(`PRAGMA auto_vacuum`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := mode(); m != 0 {
		t.Fatalf("auto_vacuum of the old file = %d, want 0 (none)", m)
	}
	env, _, err := s.EnsureEnvironment(ctx, "dev", "hash")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", 1500)
	for range 4 {
		var batch []*domain.Event
		for range 250 {
			batch = append(batch, &domain.Event{EnvironmentID: env.ID, Kind: "proxy", Outcome: "success", Message: long})
		}
		if err := s.InsertEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	full, _ := s.Size(ctx)
	for {
		n, err := s.PurgeEvents(ctx, time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1000 {
			break
		}
	}
	if old, err := s.NeedsVacuumConversion(ctx); err != nil || !old {
		t.Fatalf("an old file needs converting: %v %v", old, err)
	}
	r, err := s.Reclaim(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pages != 0 || mode() != 0 {
		t.Errorf("Reclaim of an unconverted file: %+v, auto_vacuum %d: it must not convert it", r, mode())
	}
	if err := s.ConvertForReclaim(ctx); err != nil {
		t.Fatal(err)
	}
	if old, _ := s.NeedsVacuumConversion(ctx); old || mode() != 2 {
		t.Errorf("after converting: auto_vacuum %d, want 2 (incremental)", mode())
	}
	// Converted, Reclaim checkpoints the rewritten file out of the log.
	if r, err := s.Reclaim(ctx, 100); err != nil || r.SizeAfter > full/2 {
		t.Errorf("reclaim after converting: %+v %v (%d bytes full)", r, err, full)
	}
}
