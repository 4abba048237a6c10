package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
)

const keysUsage = `Usage:
  latchkey keys rotate    re-encrypt every credential with a new key
  latchkey keys status    the configured keys and how many credentials each seals

With the generated key file (no LATCHKEY_ENCRYPTION_KEY), rotate generates the new key
and writes the file as "new,old" before touching any row. With LATCHKEY_ENCRYPTION_KEY,
put the new key first ("new,old"), then run rotate. It is safe to interrupt and re-run.
When it is done it names the keys nothing uses any more: remove them then.
`

func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "rotate" && args[0] != "status") {
		if len(args) > 0 && args[0] != "rotate" && args[0] != "status" {
			fmt.Fprintf(stderr, "latchkey keys: unknown subcommand %q\n\n", args[0])
		}
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	cfg, st, code := openServed(ctx, getenv, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if args[0] == "status" {
		usage, err := st.KeyUsage(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
			return 1
		}
		return keyStatus(stdout, cfg, usage)
	}
	rep, err := keyrotation.Rotate(ctx, st, keyrotation.Options{Keys: cfg.EncryptionKeys, KeyFile: cfg.KeyFile(), Environments: []string{app.DefaultEnvironment},
		Batch: 200, Progress: func(done, total int) {
			width := 30
			filled := width
			if total > 0 {
				filled = min(width, width*done/total)
			}
			fmt.Fprintf(stderr, "\rre-encrypting [%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total)
		}})
	fmt.Fprintln(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: rotation stopped: %v\nRun it again to finish; both keys stay usable meanwhile.\n", err)
		return 1
	}
	if rep.KeyFile != "" {
		fmt.Fprintf(stdout, "generated key %s and wrote it first in %s\n", rep.NewKeyID, rep.KeyFile)
	}
	fmt.Fprintf(stdout, "re-encrypted %d connection(s) and %d signing key(s) with key %s\n", rep.Resealed, rep.SigningKeys, rep.NewKeyID)
	if len(rep.Unused) > 0 {
		fmt.Fprintf(stdout, "key(s) %s no longer seal anything: remove them from the key list when every instance runs with the new key\n", strings.Join(rep.Unused, ", "))
	}
	return 0
}

// keyStatus lists the configured keys (primary first) with what each seals,
// then any key the data needs that is not configured.
func keyStatus(stdout io.Writer, cfg *config.Config, usage map[string]int) int {
	var ids []string
	if ring, err := keyrotation.Ring(cfg.EncryptionKeys, cfg.KeyFile()); err != nil {
		fmt.Fprintf(stdout, "%v\n", err)
	} else {
		ids = ring.KeyIDs()
		source := "LATCHKEY_ENCRYPTION_KEY"
		if len(cfg.EncryptionKeys) == 0 {
			source = cfg.KeyFile()
		}
		fmt.Fprintf(stdout, "keys in %s:\n", source)
	}
	for i, id := range ids {
		role := ""
		if i == 0 {
			role = " (primary: encrypts)"
		}
		fmt.Fprintf(stdout, "  key %s%s seals %d connection(s)\n", id, role, usage[id])
	}
	var missing []string
	total := 0
	for id, n := range usage {
		total += n
		if !slices.Contains(ids, id) {
			missing = append(missing, id)
		}
	}
	slices.Sort(missing)
	for _, id := range missing {
		fmt.Fprintf(stdout, "  key %s is NOT configured, yet seals %d connection(s): latchkey cannot read them without it\n", id, usage[id])
	}
	if total == 0 {
		fmt.Fprintln(stdout, "no credentials are stored yet")
	}
	if len(missing) > 0 {
		return 1
	}
	return 0
}
