package connections

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// EndUserInput is the end_user object of a session request, an import or a patch.
type EndUserInput struct {
	ID          string            `json:"id"`
	Email       *string           `json:"email,omitempty"`
	DisplayName *string           `json:"display_name,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// OrganizationInput is the deprecated organization object.
type OrganizationInput struct {
	ID          string  `json:"id"`
	DisplayName *string `json:"display_name,omitempty"`
}

var (
	tagKeyRE       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_\-./]*$`)
	connectionIDRE = regexp.MustCompile(`^[a-zA-Z0-9,.;:=+~\[\]|@${}"'\\/_ -]+$`)
)

// ValidConnectionID reports whether s may be a connection id: "." and ".."
// are not, since a URL path cannot carry them.
func ValidConnectionID(s string) bool {
	return len(s) <= 255 && s != "." && s != ".." && connectionIDRE.MatchString(s)
}

// EndUser validates an end user and the deprecated organization that goes with it.
func EndUser(eu *EndUserInput, org *OrganizationInput) (*domain.EndUser, []domain.FieldError) {
	var errs []domain.FieldError
	u := &domain.EndUser{ID: eu.ID}
	if eu.ID == "" || len(eu.ID) > 255 {
		errs = append(errs, domain.Field("invalid_string", "end_user.id must be 1 to 255 characters.", "end_user", "id"))
	}
	if eu.Email != nil && *eu.Email != "" {
		if a, err := mail.ParseAddress(*eu.Email); err != nil || a.Address != *eu.Email {
			errs = append(errs, domain.Field("invalid_string", "end_user.email must be an email address.", "end_user", "email"))
		}
		u.Email = *eu.Email
	}
	if eu.DisplayName != nil {
		if len(*eu.DisplayName) > 255 {
			errs = append(errs, domain.Field("too_big", "end_user.display_name must be at most 255 characters.", "end_user", "display_name"))
		}
		u.DisplayName = *eu.DisplayName
	}
	tags, terrs := Tags(eu.Tags, "end_user", "tags")
	errs = append(errs, terrs...)
	u.Tags = tags
	if org != nil {
		if org.ID == "" || len(org.ID) > 255 {
			errs = append(errs, domain.Field("invalid_string", "organization.id must be 1 to 255 characters.", "organization", "id"))
		}
		u.OrganizationID = org.ID
		if org.DisplayName != nil {
			u.OrganizationDisplayName = *org.DisplayName
		}
	}
	return u, errs
}

// ConnectionTags are the tags a connection made for an end user carries: the
// end user's identity (end_user_id, end_user_email, …), the end user's own tags,
// then the request's tags, later ones winning.
func ConnectionTags(u *domain.EndUser, requestTags map[string]string) map[string]string {
	tags := map[string]string{}
	if u != nil {
		for k, v := range map[string]string{"end_user_id": u.ID, "end_user_email": u.Email, "end_user_display_name": u.DisplayName,
			"organization_id": u.OrganizationID, "organization_display_name": u.OrganizationDisplayName} {
			if v != "" {
				tags[k] = v
			}
		}
		maps.Copy(tags, u.Tags)
	}
	maps.Copy(tags, requestTags)
	return tags
}

// Tags checks tag keys and values; keys are lowercased.
func Tags(in map[string]string, path ...string) (map[string]string, []domain.FieldError) {
	if in == nil {
		return nil, nil
	}
	var errs []domain.FieldError
	if len(in) > 10 {
		errs = append(errs, domain.Field("too_big", "At most 10 tags are allowed.", path...))
	}
	out := make(map[string]string, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		v := in[k]
		p := append(slices.Clone(path), k)
		if len(k) > 64 || !tagKeyRE.MatchString(k) {
			errs = append(errs, domain.Field("invalid_string", fmt.Sprintf("Tag key %q must start with a letter and contain only letters, digits, _ - . / (at most 64).", k), p...))
		}
		if v == "" || len(v) > 255 {
			errs = append(errs, domain.Field("invalid_string", fmt.Sprintf("Tag %q must have a value of 1 to 255 characters.", k), p...))
		}
		out[strings.ToLower(k)] = v
	}
	return out, errs
}

// ParseExpiry reads a credential expiry date: YYYY-MM-DD (the end of that day,
// UTC: Atlassian's dialog picks a day) or an RFC 3339 time (the Connect UI sends
// the end of the picked day with the browser's offset). Empty is nil. A time
// that has already passed is refused: such a token no longer works.
func ParseExpiry(v string, now time.Time, path ...string) (*time.Time, *domain.FieldError) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		d, derr := time.Parse("2006-01-02", v)
		if derr != nil {
			return nil, &domain.FieldError{Code: "invalid_date", Message: "The expiry date must be a date like 2027-03-31.", Path: path}
		}
		t = d.Add(24*time.Hour - time.Second)
	}
	t = t.UTC()
	if !t.After(now) {
		return nil, &domain.FieldError{Code: "invalid_date", Message: "The expiry date is in the past: this token no longer works.", Path: path}
	}
	if t.After(now.AddDate(1, 0, 2)) {
		return nil, &domain.FieldError{Code: "invalid_date", Message: "Atlassian API tokens expire within 365 days of creation; check the expiry date.", Path: path}
	}
	return &t, nil
}

// CheckFields validates connection config and base credentials together, so
// every problem is reported at once, in the order the form shows the fields.
// It returns the normalized config and credentials.
func CheckFields(p *provider.Provider, mode string, params map[string]string, c domain.Credentials, present map[string]bool, cfgPath, credPath []string) (map[string]any, domain.Credentials, []domain.FieldError) {
	norm, errs := p.CheckConnectionConfig(params, cfgPath...)
	for k, v := range norm {
		if len(k) > 255 || len(v) > 1024 {
			errs = append(errs, domain.Field("too_big", fmt.Sprintf("%s is too long.", k), append(slices.Clone(cfgPath), truncateKey(k))...))
		}
	}
	check := func(name string, v *string, allowEmpty bool) {
		nv, ferr := p.CheckCredential(name, *v, present[name], allowEmpty, append(slices.Clone(credPath), name)...)
		*v = nv
		if ferr != nil {
			errs = append(errs, *ferr)
		}
	}
	c.Type = mode
	switch mode {
	case domain.AuthModeBasic:
		check("username", &c.Username, false)
		check("password", &c.Password, true)
	case domain.AuthModeAPIKey:
		check("apiKey", &c.APIKey, false)
	case domain.AuthModeOAuth2CC:
		check("client_id", &c.ClientID, false)
		check("client_secret", &c.ClientSecret, false)
	}
	cfg := make(map[string]any, len(norm))
	for k, v := range norm {
		cfg[k] = v
	}
	slices.SortStableFunc(errs, func(a, b domain.FieldError) int { return fieldOrder(p, a) - fieldOrder(p, b) })
	return cfg, c, errs
}

func truncateKey(k string) string {
	if len(k) > 40 {
		return k[:40]
	}
	return k
}

// fieldOrder sorts errors as the form shows fields: config fields with an order
// first, then credentials, then the rest.
func fieldOrder(p *provider.Provider, e domain.FieldError) int {
	name := e.Path[len(e.Path)-1]
	if f, ok := p.ConnectionConfig.Get(name); ok && f.Order > 0 {
		return f.Order
	}
	if i := slices.Index([]string{"username", "password", "apiKey", "client_id", "client_secret"}, name); i >= 0 {
		return 100 + i
	}
	return 1000
}

// Stringify renders a JSON value as a connection-config string.
func Stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// MaxMetadata bounds a connection's metadata, encoded as JSON.
const MaxMetadata = 64 << 10

// Metadata checks a metadata object's size.
func Metadata(m map[string]any, path ...string) []domain.FieldError {
	if m == nil {
		return nil
	}
	if b, err := json.Marshal(m); err != nil || len(b) > MaxMetadata {
		return []domain.FieldError{domain.Field("too_big", fmt.Sprintf("metadata must be at most %d KiB of JSON.", MaxMetadata>>10), path...)}
	}
	return nil
}
