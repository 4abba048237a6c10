package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// When the write statement cache is full, a new text runs unprepared (and
// right) instead of being prepared on the write connection and never closed.
func TestWriteStatementCacheFullRunsUnprepared(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const texts = maxStmts + 40
	for i := range texts {
		var got int
		if err := s.wrow(ctx)(fmt.Sprintf("SELECT %d + 1", i)).Scan(&got); err != nil {
			t.Fatalf("text %d: %v", i, err)
		}
		if got != i+1 {
			t.Fatalf("text %d answered %d, want %d", i, got, i+1)
		}
	}
	if n := len(s.wstmts); n != maxStmts {
		t.Errorf("%d write statements kept, want the cache's bound %d", n, maxStmts)
	}
	if _, unprepared := s.StatementStats(); unprepared != texts-maxStmts {
		t.Errorf("%d texts ran unprepared, want the %d past the bound", unprepared, texts-maxStmts)
	}
	// A text already cached is still served prepared once the cache is full.
	var got int
	if err := s.wrow(ctx)("SELECT 0 + 1").Scan(&got); err != nil || got != 1 {
		t.Fatalf("cached text: %d, %v", got, err)
	}
	if _, unprepared := s.StatementStats(); unprepared != texts-maxStmts {
		t.Errorf("a cached text ran unprepared (%d)", unprepared)
	}
}
