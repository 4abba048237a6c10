package console

import (
	"html/template"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/domain"
)

// funcs are the templates' helpers. Times show in UTC with a relative
// reading ("in 3 days"), computed on the console's clock.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"asset": c.assets.URL,
		"when": func(t any) string {
			if tt, ok := timeOf(t); ok {
				return tt.UTC().Format("2006-01-02 15:04 UTC")
			}
			return "—"
		},
		"iso": func(t any) string {
			if tt, ok := timeOf(t); ok {
				return tt.UTC().Format(time.RFC3339)
			}
			return ""
		},
		"ago": func(t any) string {
			if tt, ok := timeOf(t); ok {
				return relative(tt, c.clock.Now())
			}
			return "never"
		},
		"set": func(t any) bool { _, ok := timeOf(t); return ok },
		"statusLabel": func(s string) string {
			if l, ok := statusLabels[s]; ok {
				return l
			}
			return s
		},
		"statusClass": func(s string) string {
			switch s {
			case domain.StatusOK:
				return "ok"
			case domain.StatusScopeMissing:
				return "warn"
			}
			return "bad"
		},
		"deliveryStatus": deliveryStatus,
		"who":            audit.Who,
		"connURL":        connURL,
		"endUser": func(c *domain.Connection) string {
			if c.EndUser == nil {
				return "—"
			}
			s := c.EndUser.ID
			if c.EndUser.DisplayName != "" {
				s = c.EndUser.DisplayName + " (" + c.EndUser.ID + ")"
			} else if c.EndUser.Email != "" {
				s = c.EndUser.Email + " (" + c.EndUser.ID + ")"
			}
			return s
		},
		"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"add":      func(a, b int) int { return a + b },
		"lower":    strings.ToLower,
	}
}

func timeOf(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil || t.IsZero() {
			return time.Time{}, false
		}
		return *t, true
	}
	return time.Time{}, false
}

// relative reads t from now: "in 3 days", "5 minutes ago", "just now".
func relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func deliveryStatus(m *domain.OutboxMessage) string {
	switch {
	case m.DeliveredAt != nil:
		return "delivered"
	case m.FailedAt != nil:
		return "failed"
	case m.Attempts > 0:
		return "retrying"
	}
	return "pending"
}

// sample is typed empty data for each page, to render it once at start.
func sample(page string) any {
	switch page {
	case "overview":
		return overviewData{Counts: &domain.ConnectionCounts{}, Hooks: &domain.WebhookCounts{}}
	case "connections":
		return connectionsData{}
	case "connection":
		return connectionData{Conn: &domain.Connection{}, NewLink: &newLink{}}
	case "confirm-delete":
		return &domain.Connection{}
	case "integrations":
		return integrationsData{}
	case "integration":
		return integrationData{Integ: &domain.Integration{}}
	case "links":
		return linksData{NewLink: &newLink{}}
	case "webhooks":
		return webhooksData{Counts: &domain.WebhookCounts{}}
	case "delivery":
		return deliveryData{M: &domain.OutboxMessage{}}
	case "environment":
		return environmentData{NewKey: &newKeyData{Record: &domain.SecretKey{}}}
	case "confirm-revoke":
		return revokeData{Key: &domain.SecretKey{}}
	case "confirm-rotate":
		return "dev"
	case "audit":
		return auditData{}
	case "sign-in":
		return signInData{}
	case "error":
		return 500
	}
	return nil
}
