package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/app"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/keyrotation"
)

const keysUsage = `Usage:
  latchkey keys rotate    re-encrypt every credential with a new key
  latchkey keys status    how many credentials each key seals

With the generated key file (no LATCHKEY_ENCRYPTION_KEY), rotate generates the new key
and writes the file as "new,old" before touching any row. With LATCHKEY_ENCRYPTION_KEY,
put the new key first ("new,old"), then run rotate. It is safe to interrupt and re-run.
When it is done it names the keys nothing uses any more: remove them then.
`

func keys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "rotate" && args[0] != "status") {
		fmt.Fprint(stderr, keysUsage)
		return 2
	}
	if args[0] == "status" {
		st, code := openConfiguredStore(ctx, getenv, stderr)
		if st == nil {
			return code
		}
		defer st.Close()
		usage, err := st.KeyUsage(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "latchkey: %v\n", err)
			return 1
		}
		for id, n := range usage {
			fmt.Fprintf(stdout, "key %s seals %d connection(s)\n", id, n)
		}
		return 0
	}
	cfg, err := config.Load(getenv, nil, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: configuration:\n%v\n", indent(err))
		return 2
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return 1
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
