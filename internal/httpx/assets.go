package httpx

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Assets are the embedded files of a page (scripts, styles, images) served
// under content-hashed names, so a browser may keep them for a year: a
// changed file gets a new name. The Connect UI and the console each have one.
type Assets struct {
	files map[string]asset  // by hashed name
	urls  map[string]string // file name → prefix + "/" + hashed name
}

type asset struct {
	body        []byte
	contentType string
}

var assetTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

// LoadAssets reads every file of dir in fsys; prefix is the path they are
// served under (the route must end in {file}).
func LoadAssets(fsys fs.FS, dir, prefix string) (*Assets, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	a := &Assets{files: map[string]asset{}, urls: map[string]string{}}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext
		a.files[hashed] = asset{body: b, contentType: assetTypes[ext]}
		a.urls[e.Name()] = prefix + "/" + hashed
	}
	return a, nil
}

// URL is the path a page links file by (the templates' "asset" function).
func (a *Assets) URL(file string) (string, error) {
	if p, ok := a.urls[file]; ok {
		return p, nil
	}
	return "", fmt.Errorf("no asset %q", file)
}

// ServeHTTP serves the file the route's {file} names, cacheable for a year.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(f.body)
}
