package httpapi

import (
	"net/http"
	"net/url"
	"regexp"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

func (a *API) listProviders(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, []string{"search"}); err != nil {
		return err
	}
	var re *regexp.Regexp
	if s := r.URL.Query().Get("search"); s != "" {
		var err error
		if re, err = regexp.Compile("(?i)" + s); err != nil {
			re = regexp.MustCompile("(?i)" + regexp.QuoteMeta(s))
		}
	}
	out := []provider.Ordered{}
	for _, p := range a.catalogue.All() {
		if re == nil || re.MatchString(p.Name) || re.MatchString(p.DisplayName) {
			out = append(out, a.providerJSON(p))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, nil); err != nil {
		return err
	}
	name := r.PathValue("provider")
	p, ok := a.catalogue.Get(name)
	if !ok {
		return domain.NotFound("not_found", "Unknown provider "+url.PathEscape(name))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": a.providerJSON(p)})
	return nil
}
