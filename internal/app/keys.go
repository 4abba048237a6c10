package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/auth"
	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// RotationReport says what a key rotation did.
type RotationReport struct {
	NewKeyID    string
	Resealed    int
	SigningKeys int
	// Unused lists key ids nothing is sealed with any more: they can be removed.
	Unused []string
	// KeyFile is set when the generated key file was rewritten.
	KeyFile string
}

// RotateKeys re-encrypts everything with a new primary key. With the generated
// key file, it generates the new key and writes the file (new key first) before
// touching any row, so an interruption leaves both keys available; with
// LATCHKEY_ENCRYPTION_KEY, the operator puts the new key first and this
// re-encrypts to it. Batches commit one by one: run it again after an
// interruption and it carries on.
func RotateKeys(ctx context.Context, cfg *config.Config, batch int, progress func(done, total int)) (*RotationReport, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return nil, err
	}
	rep := &RotationReport{}
	var ring *secret.KeyRing
	if len(cfg.EncryptionKeys) > 0 {
		if ring, err = secret.NewKeyRing(cfg.EncryptionKeys...); err != nil {
			return nil, err
		}
	} else {
		b, err := os.ReadFile(cfg.KeyFile())
		if err != nil {
			return nil, fmt.Errorf("no LATCHKEY_ENCRYPTION_KEY and no key file: %w", err)
		}
		keys, err := secret.ParseKeys(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, err
		}
		usage, err := st.KeyUsage(ctx)
		if err != nil {
			return nil, err
		}
		// A new key is generated only when the current primary is in use: a re-run
		// after an interruption finishes the rotation it started.
		if len(usage) == 0 || usage[secret.KeyID(keys[0])] > 0 && len(usage) == 1 {
			k, err := secret.GenerateKey()
			if err != nil {
				return nil, err
			}
			keys = append([][]byte{k}, keys...)
			var enc []string
			for _, key := range keys {
				enc = append(enc, secret.EncodeKey(key))
			}
			tmp := cfg.KeyFile() + ".new"
			if err := os.WriteFile(tmp, []byte(strings.Join(enc, ",")+"\n"), 0o600); err != nil {
				return nil, err
			}
			if err := os.Rename(tmp, cfg.KeyFile()); err != nil {
				return nil, err
			}
			rep.KeyFile = cfg.KeyFile()
		}
		if ring, err = secret.NewKeyRing(keys...); err != nil {
			return nil, err
		}
	}
	if err := checkKeys(ctx, st, ring); err != nil {
		return nil, err
	}
	primary := ring.PrimaryKeyID()
	rep.NewKeyID = primary
	usage, _ := st.KeyUsage(ctx)
	total := 0
	for id, n := range usage {
		if id != primary {
			total += n
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rows, err := st.CredentialsNotSealedWith(ctx, primary, batch)
		if err != nil {
			return rep, err
		}
		if len(rows) == 0 {
			break
		}
		sealed := make([]string, len(rows))
		for i, r := range rows {
			ad := auth.ConnectionAAD(r.EnvironmentID, r.IntegrationID, r.ConnectionID)
			plain, err := ring.Decrypt(r.Sealed, ad)
			if err != nil {
				return rep, fmt.Errorf("connection %d: %w", r.PK, err)
			}
			if sealed[i], err = ring.Encrypt(plain, ad); err != nil {
				return rep, err
			}
		}
		n, err := st.Reseal(ctx, rows, sealed, primary)
		if err != nil {
			return rep, err
		}
		rep.Resealed += n
		if progress != nil {
			progress(rep.Resealed, total)
		}
	}
	// Webhook signing keys and the start-up canary.
	if rep.SigningKeys, err = resealSigningKeys(ctx, st, ring); err != nil {
		return rep, err
	}
	if sealed, err := ring.Encrypt([]byte("latchkey"), []byte("settings/"+canaryKey)); err == nil {
		if err := st.SetSetting(ctx, canaryKey, sealed); err != nil {
			return rep, err
		}
	}
	usage, _ = st.KeyUsage(ctx)
	for _, id := range ring.KeyIDs() {
		if id != primary && usage[id] == 0 {
			rep.Unused = append(rep.Unused, id)
		}
	}
	return rep, nil
}

func resealSigningKeys(ctx context.Context, st *store.Store, ring *secret.KeyRing) (int, error) {
	n := 0
	for _, name := range []string{DefaultEnvironment} {
		env, err := st.EnvironmentByName(ctx, name)
		if errors.Is(err, domain.ErrNotFound) {
			continue
		}
		if err != nil {
			return n, err
		}
		if env.WebhookSigningKey == "" {
			continue
		}
		if id, _ := secret.CiphertextKeyID(env.WebhookSigningKey); id == ring.PrimaryKeyID() {
			continue
		}
		ad := environment.SigningKeyAAD(env.ID)
		plain, err := ring.Decrypt(env.WebhookSigningKey, ad)
		if err != nil {
			return n, err
		}
		sealed, err := ring.Encrypt(plain, ad)
		if err != nil {
			return n, err
		}
		if err := st.SetWebhookSigningKey(ctx, env.ID, sealed); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
