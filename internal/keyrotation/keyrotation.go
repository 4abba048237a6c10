// Package keyrotation owns the encryption key ring as it meets the database:
// reading the configured ring, checking it against what the database holds
// (so a wrong key fails the start, not a later read), and re-encrypting
// everything with a new key (`latchkey keys rotate`).
package keyrotation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/environment"
	"github.com/latchkeyhq/latchkey/internal/secret"
	"github.com/latchkeyhq/latchkey/internal/store"
)

// canaryKey names the setting that holds a value sealed with the primary key:
// it tells a wrong key from a right one before any credential is read.
const canaryKey = "encryption_canary"

// ReadKeyFile reads a key file: base64 keys, comma-separated, the first encrypts.
func ReadKeyFile(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	keys, err := secret.ParseKeys(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("encryption key file %s holds no key", path)
	}
	return keys, nil
}

// Ring is the configured key ring: LATCHKEY_ENCRYPTION_KEY's keys when set,
// else the key file's. With neither, the error wraps os.ErrNotExist.
func Ring(configured [][]byte, keyFile string) (*secret.KeyRing, error) {
	keys := configured
	if len(keys) == 0 {
		var err error
		if keys, err = ReadKeyFile(keyFile); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no encryption key: LATCHKEY_ENCRYPTION_KEY is not set and there is no key file (%w: %s)", os.ErrNotExist, keyFile)
		} else if err != nil {
			return nil, err
		}
	}
	return secret.NewKeyRing(keys...)
}

// SealedWith returns the id of a key the database already holds data sealed
// with, or "" for a database that holds nothing sealed yet.
func SealedWith(ctx context.Context, st *store.Store) (string, error) {
	ids, err := st.CredentialKeyIDs(ctx)
	if err != nil {
		return "", err
	}
	if len(ids) > 0 {
		return ids[0], nil
	}
	canary, err := st.GetSetting(ctx, canaryKey)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id, _ := secret.CiphertextKeyID(canary)
	return id, nil
}

// Check refuses a ring that cannot open what the database holds, naming the
// key the data needs. On a database that holds nothing sealed yet it seals the
// canary with the ring's primary key.
func Check(ctx context.Context, st *store.Store, ring *secret.KeyRing) error {
	wrongKey := func(id string) error {
		return fmt.Errorf("the encryption key does not match this database: its data was encrypted with key id %s, but the configured key ids are %s. "+
			"Start latchkey with the key the data was written with (LATCHKEY_ENCRYPTION_KEY, or encryption.key in the data dir); "+
			"to rotate, list the new key first and the old one after it",
			id, strings.Join(ring.KeyIDs(), ", "))
	}
	ids, err := st.CredentialKeyIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !ring.Has(id) {
			return wrongKey(id)
		}
	}
	canary, err := st.GetSetting(ctx, canaryKey)
	if errors.Is(err, domain.ErrNotFound) {
		return sealCanary(ctx, st, ring)
	}
	if err != nil {
		return err
	}
	if _, err := ring.Decrypt(canary, []byte("settings/"+canaryKey)); err != nil {
		id, _ := secret.CiphertextKeyID(canary)
		return wrongKey(id)
	}
	return nil
}

func sealCanary(ctx context.Context, st *store.Store, ring *secret.KeyRing) error {
	sealed, err := ring.Encrypt([]byte("latchkey"), []byte("settings/"+canaryKey))
	if err != nil {
		return err
	}
	return st.SetSetting(ctx, canaryKey, sealed)
}

// Options says what to rotate.
type Options struct {
	// Keys is the configured ring (LATCHKEY_ENCRYPTION_KEY), new key first; nil
	// means the generated key file, KeyFile.
	Keys    [][]byte
	KeyFile string
	// Environments are those whose webhook signing keys are re-encrypted too.
	Environments []string
	// Batch is how many credentials are re-encrypted per transaction.
	Batch int
	// Progress, when set, is told after each batch.
	Progress func(done, total int)
}

// Report says what a rotation did.
type Report struct {
	NewKeyID    string
	Resealed    int
	SigningKeys int
	// Unused lists key ids nothing is sealed with any more: they can be removed.
	Unused []string
	// KeyFile is set when the generated key file was rewritten.
	KeyFile string
}

// Rotate re-encrypts everything with a new primary key. With the generated key
// file, it generates the new key and writes the file (new key first) before
// touching any row, so an interruption leaves both keys available; with
// LATCHKEY_ENCRYPTION_KEY, the operator puts the new key first and this
// re-encrypts to it. Batches commit one by one: run it again after an
// interruption and it carries on. The database must be migrated.
func Rotate(ctx context.Context, st *store.Store, o Options) (*Report, error) {
	rep := &Report{}
	var ring *secret.KeyRing
	var err error
	if len(o.Keys) > 0 {
		if ring, err = secret.NewKeyRing(o.Keys...); err != nil {
			return nil, err
		}
	} else {
		keys, err := ReadKeyFile(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("no LATCHKEY_ENCRYPTION_KEY and no key file: %w", err)
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
			tmp := o.KeyFile + ".new"
			if err := os.WriteFile(tmp, []byte(strings.Join(enc, ",")+"\n"), 0o600); err != nil {
				return nil, err
			}
			if err := os.Rename(tmp, o.KeyFile); err != nil {
				return nil, err
			}
			rep.KeyFile = o.KeyFile
		}
		if ring, err = secret.NewKeyRing(keys...); err != nil {
			return nil, err
		}
	}
	if err := Check(ctx, st, ring); err != nil {
		return nil, err
	}
	batch := o.Batch
	if batch <= 0 {
		batch = 200
	}
	primary := ring.PrimaryKeyID()
	rep.NewKeyID = primary
	usage, err := st.KeyUsage(ctx)
	if err != nil {
		return nil, err
	}
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
			ad := connections.AAD(r.EnvironmentID, r.IntegrationID, r.ConnectionID)
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
		if o.Progress != nil {
			o.Progress(rep.Resealed, total)
		}
	}
	// Webhook signing keys and the start-up canary.
	if rep.SigningKeys, err = resealSigningKeys(ctx, st, ring, o.Environments); err != nil {
		return rep, err
	}
	if err := sealCanary(ctx, st, ring); err != nil {
		return rep, err
	}
	if usage, err = st.KeyUsage(ctx); err != nil {
		return rep, err
	}
	for _, id := range ring.KeyIDs() {
		if id != primary && usage[id] == 0 {
			rep.Unused = append(rep.Unused, id)
		}
	}
	return rep, nil
}

func resealSigningKeys(ctx context.Context, st *store.Store, ring *secret.KeyRing, envs []string) (int, error) {
	n := 0
	for _, name := range envs {
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
