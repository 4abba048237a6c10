package provider

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/domain"
)

// FieldError is one problem with one submitted value.
type FieldError = domain.FieldError

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9.-]+$`)
)

// Normalize trims the whitespace that copy and paste brings along, for fields
// whose format or pattern could never accept it. Free-form values stay as typed.
func (f *Field) Normalize(v string) string {
	if f.Format != "" || f.Pattern != "" {
		return strings.TrimSpace(v)
	}
	return v
}

// Check validates one value against the field's schema. present is false when
// the value was not submitted at all. The message never repeats a secret value.
func (f *Field) Check(v string, present bool) (code, message string) {
	label := f.Label()
	if !present || v == "" {
		if f.Optional || f.DefaultValue != "" {
			return "", ""
		}
		return "required", fmt.Sprintf("%s is required.", label)
	}
	if len(v) > 1024 {
		return "too_long", fmt.Sprintf("%s is too long (at most 1024 characters).", label)
	}
	like := ""
	if f.Example != "" && !f.Secret {
		like = fmt.Sprintf(", like %s", f.Example)
	}
	switch f.Format {
	case "uuid":
		if !uuidRE.MatchString(v) {
			return "invalid_format", fmt.Sprintf("%s must be a UUID (36 characters: 8-4-4-4-12 hexadecimal digits%s).", label, like)
		}
	case "email":
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || !strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") {
			return "invalid_format", fmt.Sprintf("%s must be an email address%s.", label, like)
		}
	case "hostname":
		if !hostnameRE.MatchString(v) || strings.HasPrefix(v, ".") || strings.HasPrefix(v, "-") {
			return "invalid_format", fmt.Sprintf("%s must be a host name%s, without https:// or a path.", label, like)
		}
	case "uri":
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			return "invalid_format", fmt.Sprintf("%s must be a full URL%s.", label, like)
		}
	}
	if f.re != nil && !f.re.MatchString(v) {
		if f.Secret {
			return "invalid_format", fmt.Sprintf("%s is not in the expected format. Copy the whole value again; it may have been cut short.", label)
		}
		return "invalid_format", fmt.Sprintf("%s is not in the expected format%s.", label, like)
	}
	if len(f.Enum) > 0 {
		ok := false
		for _, e := range f.Enum {
			ok = ok || e == v
		}
		if !ok {
			return "invalid_value", fmt.Sprintf("%s must be one of: %s.", label, strings.Join(f.Enum, ", "))
		}
	}
	return "", ""
}

// CheckConnectionConfig validates connection-config values (all at once) and
// returns them normalized. Unknown keys are kept: scripts and callers may set them.
func (p *Provider) CheckConnectionConfig(cfg map[string]string, pathPrefix ...string) (map[string]string, []FieldError) {
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		out[k] = v
	}
	var errs []FieldError
	for _, f := range p.ConnectionConfig {
		if f.Automated {
			continue
		}
		v, present := out[f.Name]
		v = f.Normalize(v)
		if present {
			out[f.Name] = v
		} else if f.DefaultValue != "" {
			out[f.Name] = f.DefaultValue
		}
		if code, msg := f.Check(v, present); code != "" {
			errs = append(errs, FieldError{Code: code, Message: msg, Path: append(append([]string{}, pathPrefix...), f.Name)})
		}
	}
	return out, errs
}

// CheckCredential validates one base credential (username, password, apiKey…)
// against the provider's credentials schema, if it describes the field. A field the
// schema does not describe is required unless allowEmpty.
func (p *Provider) CheckCredential(name, v string, present, allowEmpty bool, path ...string) (string, *FieldError) {
	f, ok := p.Credentials.Get(name)
	if !ok {
		f = &Field{Name: name, Title: defaultCredentialTitle(name), Optional: allowEmpty}
	}
	v = f.Normalize(v)
	if code, msg := f.Check(v, present); code != "" {
		return v, &FieldError{Code: code, Message: msg, Path: path}
	}
	return v, nil
}

func defaultCredentialTitle(name string) string {
	switch name {
	case "username":
		return "User Name"
	case "password":
		return "Password"
	case "apiKey":
		return "API Key"
	case "client_id":
		return "Client ID"
	case "client_secret":
		return "Client Secret"
	}
	return name
}
