package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/internal/audit"
	"github.com/latchkeyhq/latchkey/internal/connect"
	"github.com/latchkeyhq/latchkey/internal/connections"
	"github.com/latchkeyhq/latchkey/internal/domain"
	"github.com/latchkeyhq/latchkey/internal/integrations"
	"github.com/latchkeyhq/latchkey/internal/provider"
)

// done messages: a successful post redirects to a page with ?done=<code>,
// which shows the message (codes, never data, travel in the URL).
var doneMessages = map[string]string{
	"checked":  "Checked now; the status below is the result.",
	"deleted":  "Connection deleted.",
	"created":  "Integration created.",
	"renamed":  "Display name saved.",
	"retried":  "The delivery will be sent again now.",
	"revoked":  "Key revoked: it no longer works, on any instance.",
	"rotated":  "Signing key replaced.",
	"signedin": "",
}

func flash(q *request) string { return doneMessages[q.r.URL.Query().Get("done")] }

// Statuses a connection may have, in the order the console lists them.
var statuses = []string{domain.StatusOK, domain.StatusScopeMissing, domain.StatusInvalidCredentials, domain.StatusExpired, domain.StatusUnreachable}

var statusLabels = map[string]string{
	domain.StatusOK: "OK", domain.StatusScopeMissing: "Scope missing", domain.StatusInvalidCredentials: "Invalid credentials",
	domain.StatusExpired: "Expired", domain.StatusUnreachable: "Unreachable",
}

// expiryHorizon is how far ahead the overview looks for expiring tokens.
const expiryHorizon = 14 * 24 * time.Hour

type statusCount struct {
	Status, Label string
	N             int
}

type overviewData struct {
	Counts   *domain.ConnectionCounts
	Statuses []statusCount
	Expiring []*domain.Connection
	Failing  []*domain.Connection
	Hooks    *domain.WebhookCounts
	Days     int
}

func (c *Console) overview(q *request) error {
	ctx, now := q.r.Context(), c.clock.Now()
	counts, err := c.o.Store.ConnectionCounts(ctx, q.env.ID, now, now.Add(expiryHorizon))
	if err != nil {
		return err
	}
	d := overviewData{Counts: counts, Days: int(expiryHorizon / (24 * time.Hour))}
	for _, s := range statuses {
		d.Statuses = append(d.Statuses, statusCount{Status: s, Label: statusLabels[s], N: counts.ByStatus[s]})
	}
	if d.Expiring, err = c.o.Store.ExpiringSoon(ctx, q.env.ID, now, now.Add(expiryHorizon), 10); err != nil {
		return err
	}
	if d.Failing, err = c.o.Store.FailingConnections(ctx, q.env.ID, 10); err != nil {
		return err
	}
	if d.Hooks, err = c.o.Store.WebhookCounts(ctx, q.env.ID); err != nil {
		return err
	}
	c.render(q.w, q, 200, "overview", view{Title: "Overview", Nav: "overview", Flash: flash(q), Data: d})
	return nil
}

// filterForm is the connections listing's filter, as typed.
type filterForm struct {
	Q, Status, Integration, EndUser, Tags string
}

type connectionsData struct {
	Filter       filterForm
	Filtered     bool
	Statuses     []statusCount
	Integrations []*domain.Integration
	List         []*domain.Connection
	Pager        pager
}

// readFilter turns the listing's query into a filter, or field errors.
func readFilter(v url.Values) (filterForm, domain.ConnectionFilter, []domain.FieldError) {
	form := filterForm{Q: strings.TrimSpace(v.Get("q")), Status: v.Get("status"), Integration: v.Get("integration"),
		EndUser: strings.TrimSpace(v.Get("end_user")), Tags: strings.TrimSpace(v.Get("tags"))}
	f := domain.ConnectionFilter{Search: form.Q, Status: form.Status, EndUserID: form.EndUser}
	var errs []domain.FieldError
	if len(form.Q) > 200 {
		errs = append(errs, domain.Field("too_big", "Search must be at most 200 characters.", "q"))
	}
	if form.Status != "" && !slices.Contains(statuses, form.Status) {
		errs = append(errs, domain.Field("invalid_enum_value", "Choose a status from the list.", "status"))
	}
	if form.Integration != "" {
		f.IntegrationIDs = []string{form.Integration}
	}
	if form.Tags != "" {
		f.Tags = map[string]string{}
		for _, part := range strings.Split(form.Tags, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.TrimSpace(k) == "" {
				errs = append(errs, domain.Field("invalid_string", "Tags are key=value, separated by commas (e.g. plan=pro, region=eu).", "tags"))
				break
			}
			f.Tags[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
	}
	return form, f, errs
}

func (c *Console) connectionsPage(q *request) error {
	ctx, v := q.r.Context(), q.r.URL.Query()
	form, f, errs := readFilter(v)
	d := connectionsData{Filter: form, Filtered: form != filterForm{}}
	for _, s := range statuses {
		d.Statuses = append(d.Statuses, statusCount{Status: s, Label: statusLabels[s]})
	}
	var err error
	if d.Integrations, err = c.o.Integrations.List(ctx, q.env.ID, nil); err != nil {
		return err
	}
	if len(errs) > 0 {
		c.render(q.w, q, 400, "connections", view{Title: "Connections", Nav: "connections", Error: "Check the filter.", Fields: errs, Data: d})
		return nil
	}
	page := readPage(v)
	limit(&f, page)
	list, err := c.o.Connections.List(ctx, q.env.ID, f)
	if err != nil {
		return err
	}
	d.List, d.Pager = paginate(list, page, Prefix+"/connections", v)
	c.render(q.w, q, 200, "connections", view{Title: "Connections", Nav: "connections", Flash: flash(q), Data: d})
	return nil
}

type kv struct{ K, V string }

func sortedKV(m map[string]any) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, connections.Stringify(m[k])})
	}
	return out
}

func sortedTags(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// newLink is a connect link just created, shown once.
type newLink struct {
	URL       string
	ExpiresAt time.Time
}

type connectionData struct {
	Conn          *domain.Connection
	Config, Tags  []kv
	NextCheck     time.Time
	NextScheduled bool
	Events        []*domain.Event
	OlderEvents   string
	Deliveries    []*domain.OutboxMessage
	NewLink       *newLink
}

const eventsPerPage = 50

// stored loads the connection a form or link names.
func (c *Console) stored(q *request, integration, id string) (*domain.Connection, error) {
	if integration == "" || id == "" {
		return nil, domain.Invalid("invalid_query_params", "Which connection? The link is missing its integration or id.")
	}
	conn, err := c.o.Connections.Stored(q.r.Context(), q.env.ID, integration, id)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, domain.NotFound("unknown_connection", fmt.Sprintf("There is no connection %q of integration %q (it may have been deleted).", id, integration))
	}
	return conn, err
}

func (c *Console) connectionPage(q *request) error {
	v := q.r.URL.Query()
	conn, err := c.stored(q, v.Get("integration"), v.Get("id"))
	if err != nil {
		return err
	}
	return c.showConnection(q, conn, nil)
}

func (c *Console) showConnection(q *request, conn *domain.Connection, link *newLink) error {
	ctx := q.r.Context()
	d := connectionData{Conn: conn, Config: sortedKV(conn.ConnectionConfig), Tags: sortedTags(conn.Tags), NewLink: link}
	next, err := c.o.Store.ConnectionSchedule(ctx, conn.ID)
	if err != nil {
		return err
	}
	if next != nil {
		d.NextCheck, d.NextScheduled = *next, true
	} else {
		base := conn.CreatedAt
		if conn.LastVerifiedAt != nil {
			base = *conn.LastVerifiedAt
		}
		d.NextCheck = base.Add(c.o.CheckInterval)
	}
	before, _ := strconv.ParseInt(q.r.URL.Query().Get("before"), 10, 64)
	if d.Events, err = c.o.Connections.Events(ctx, q.env.ID, conn.IntegrationKey, conn.ConnectionID, max(before, 0), eventsPerPage); err != nil {
		return err
	}
	if len(d.Events) == eventsPerPage {
		d.OlderEvents = connURL(conn) + "&before=" + strconv.FormatInt(d.Events[len(d.Events)-1].ID, 10) + "#timeline"
	}
	if d.Deliveries, err = c.o.Store.ConnectionDeliveries(ctx, q.env.ID, conn.ConnectionID, 20); err != nil {
		return err
	}
	c.render(q.w, q, 200, "connection", view{Title: "Connection " + conn.ConnectionID, Nav: "connections", Flash: flash(q), Data: d})
	return nil
}

// connURL is a connection's console page.
func connURL(conn *domain.Connection) string {
	return Prefix + "/connection?" + url.Values{"integration": {conn.IntegrationKey}, "id": {conn.ConnectionID}}.Encode()
}

func (c *Console) checkConnection(q *request) error {
	conn, err := c.stored(q, q.r.PostForm.Get("integration"), q.r.PostForm.Get("id"))
	if err != nil {
		return err
	}
	prev := conn.Status
	res, err := c.o.Lifecycle.Check(q.r.Context(), conn)
	if err != nil {
		return err
	}
	c.record(q, audit.ConnectionCheck, conn.IntegrationKey+"/"+conn.ConnectionID, "status "+prev+" → "+res.Status)
	return redirect(q, connURL(conn)+"&done=checked")
}

func (c *Console) connectLink(token string) string {
	return c.o.PublicURL + "/connect?session_token=" + token
}

func (c *Console) reconnectLink(q *request) error {
	conn, err := c.stored(q, q.r.PostForm.Get("integration"), q.r.PostForm.Get("id"))
	if err != nil {
		return err
	}
	s, err := c.o.Connect.CreateReconnectSession(q.r.Context(), q.env, &connect.ReconnectRequest{ConnectionID: conn.ConnectionID, IntegrationID: conn.IntegrationKey})
	if err != nil {
		return err
	}
	c.record(q, audit.ReconnectCreate, conn.IntegrationKey+"/"+conn.ConnectionID, "session "+strconv.FormatInt(s.Session.ID, 10))
	return c.showConnection(q, conn, &newLink{URL: c.connectLink(s.Token), ExpiresAt: s.Session.ExpiresAt})
}

func (c *Console) confirmDelete(q *request) error {
	v := q.r.URL.Query()
	conn, err := c.stored(q, v.Get("integration"), v.Get("id"))
	if err != nil {
		return err
	}
	c.render(q.w, q, 200, "confirm-delete", view{Title: "Delete connection " + conn.ConnectionID, Nav: "connections", Data: conn})
	return nil
}

func (c *Console) deleteConnection(q *request) error {
	integ, id := q.r.PostForm.Get("integration"), q.r.PostForm.Get("id")
	if _, err := c.stored(q, integ, id); err != nil {
		return err
	}
	if err := c.o.Connections.Delete(q.r.Context(), q.env.ID, integ, id); err != nil {
		return err
	}
	c.record(q, audit.ConnectionDelete, integ+"/"+id, "")
	return redirect(q, Prefix+"/connections?done=deleted")
}

type integrationForm struct{ Provider, Key, Name string }

type integrationsData struct {
	List      []*domain.Integration
	Providers []*provider.Provider
	Form      integrationForm
}

func (c *Console) integrationsPage(q *request) error {
	return c.showIntegrations(q, 200, integrationForm{}, nil)
}

func (c *Console) showIntegrations(q *request, status int, form integrationForm, problem *domain.Error) error {
	list, err := c.o.Integrations.List(q.r.Context(), q.env.ID, nil)
	if err != nil {
		return err
	}
	v := view{Title: "Integrations", Nav: "integrations", Flash: flash(q), Data: integrationsData{List: list, Providers: c.o.Catalogue.All(), Form: form}}
	if problem != nil {
		v.Flash, v.Error, v.Fields = "", "The integration was not created: "+problem.Message, problem.Fields
	}
	c.render(q.w, q, status, "integrations", v)
	return nil
}

// formProblem is a *domain.Error a form shows next to its fields; anything
// else fails the request.
func formProblem(err error) (*domain.Error, bool) {
	e, ok := domain.AsError(err)
	if !ok || (e.Kind != domain.KindInvalid && e.Kind != domain.KindConflict) {
		return nil, false
	}
	return e, true
}

func (c *Console) createIntegration(q *request) error {
	f := q.r.PostForm
	form := integrationForm{Provider: f.Get("provider"), Key: strings.TrimSpace(f.Get("unique_key")), Name: strings.TrimSpace(f.Get("display_name"))}
	req := &integrations.Request{Provider: &form.Provider, UniqueKey: &form.Key}
	if form.Name != "" {
		req.DisplayName = &form.Name
	}
	in, err := c.o.Integrations.Create(q.r.Context(), q.env.ID, req)
	if p, ok := formProblem(err); ok {
		return c.showIntegrations(q, statusOf[p.Kind], form, p)
	}
	if err != nil {
		return err
	}
	c.record(q, audit.IntegrationCreate, in.UniqueKey, "provider "+in.Provider+", display name "+strconv.Quote(in.DisplayName))
	return redirect(q, Prefix+"/integrations?done=created")
}

type integrationData struct {
	Integ *domain.Integration
	Name  string
}

func (c *Console) integrationPage(q *request) error {
	in, err := c.o.Integrations.Get(q.r.Context(), q.env.ID, q.r.URL.Query().Get("key"))
	if err != nil {
		return err
	}
	c.render(q.w, q, 200, "integration", view{Title: "Integration " + in.UniqueKey, Nav: "integrations", Data: integrationData{Integ: in, Name: in.DisplayName}})
	return nil
}

func (c *Console) renameIntegration(q *request) error {
	key, name := q.r.PostForm.Get("key"), strings.TrimSpace(q.r.PostForm.Get("display_name"))
	in, err := c.o.Integrations.Get(q.r.Context(), q.env.ID, key)
	if err != nil {
		return err
	}
	var problem *domain.Error
	if name == "" {
		problem = domain.Invalid("invalid_body", "Enter a display name.", domain.Field("invalid_string", "Enter a display name.", "display_name"))
	} else {
		_, err = c.o.Integrations.Update(q.r.Context(), q.env.ID, key, &integrations.Request{DisplayName: &name})
		if p, ok := formProblem(err); ok {
			problem = p
		} else if err != nil {
			return err
		}
	}
	if problem != nil {
		c.render(q.w, q, statusOf[problem.Kind], "integration", view{Title: "Integration " + in.UniqueKey, Nav: "integrations",
			Error: "The name was not saved: " + problem.Message, Fields: problem.Fields, Data: integrationData{Integ: in, Name: name}})
		return nil
	}
	c.record(q, audit.IntegrationUpdate, key, "display name "+strconv.Quote(in.DisplayName)+" → "+strconv.Quote(name))
	return redirect(q, Prefix+"/integrations?done=renamed")
}

type linkForm struct {
	EndUserID, Email, Name string
	Allowed                map[string]bool
}

type linksData struct {
	Integrations []*domain.Integration
	Form         linkForm
	NewLink      *newLink
	For          string
}

func (c *Console) linksPage(q *request) error {
	return c.showLinks(q, 200, linkForm{}, nil, nil)
}

func (c *Console) showLinks(q *request, status int, form linkForm, link *newLink, problem *domain.Error) error {
	list, err := c.o.Integrations.List(q.r.Context(), q.env.ID, nil)
	if err != nil {
		return err
	}
	d := linksData{Integrations: list, Form: form, NewLink: link, For: form.EndUserID}
	v := view{Title: "Connect links", Nav: "links", Data: d}
	if problem != nil {
		v.Error, v.Fields = "No link was created: "+problem.Message, problem.Fields
	}
	c.render(q.w, q, status, "links", v)
	return nil
}

func (c *Console) createLink(q *request) error {
	f := q.r.PostForm
	form := linkForm{EndUserID: strings.TrimSpace(f.Get("end_user_id")), Email: strings.TrimSpace(f.Get("email")), Name: strings.TrimSpace(f.Get("display_name")),
		Allowed: map[string]bool{}}
	eu := &connections.EndUserInput{ID: form.EndUserID}
	if form.Email != "" {
		eu.Email = &form.Email
	}
	if form.Name != "" {
		eu.DisplayName = &form.Name
	}
	req := &connect.SessionRequest{EndUser: eu}
	for _, k := range f["integration"] {
		form.Allowed[k] = true
		req.AllowedIntegrations = append(req.AllowedIntegrations, k)
	}
	sort.Strings(req.AllowedIntegrations)
	s, err := c.o.Connect.CreateSession(q.r.Context(), q.env, req)
	if p, ok := formProblem(err); ok {
		return c.showLinks(q, statusOf[p.Kind], form, nil, p)
	}
	if err != nil {
		return err
	}
	detail := "all integrations"
	if len(req.AllowedIntegrations) > 0 {
		detail = "integrations " + strings.Join(req.AllowedIntegrations, ", ")
	}
	c.record(q, audit.SessionCreate, "session "+strconv.FormatInt(s.Session.ID, 10)+" for end user "+form.EndUserID, detail)
	return c.showLinks(q, 201, form, &newLink{URL: c.connectLink(s.Token), ExpiresAt: s.Session.ExpiresAt}, nil)
}

type webhooksData struct {
	URL, Secondary string
	SigningKeySet  bool
	Status         string
	List           []*domain.OutboxMessage
	NextURL        string
	Counts         *domain.WebhookCounts
}

const deliveriesPerPage = 50

func (c *Console) webhooksPage(q *request) error {
	v := q.r.URL.Query()
	status := v.Get("status")
	if status != "" && status != "pending" && status != "delivered" && status != "failed" {
		status = ""
	}
	before, _ := strconv.ParseInt(v.Get("before"), 10, 64)
	list, err := c.o.Deliveries.List(q.r.Context(), q.env.ID, status, max(before, 0), deliveriesPerPage)
	if err != nil {
		return err
	}
	counts, err := c.o.Store.WebhookCounts(q.r.Context(), q.env.ID)
	if err != nil {
		return err
	}
	d := webhooksData{URL: q.env.WebhookURL, Secondary: q.env.WebhookSecondaryURL, SigningKeySet: q.env.WebhookSigningKey != "", Status: status, List: list, Counts: counts}
	if len(list) == deliveriesPerPage {
		u := url.Values{"before": {strconv.FormatInt(list[len(list)-1].ID, 10)}}
		if status != "" {
			u.Set("status", status)
		}
		d.NextURL = Prefix + "/webhooks?" + u.Encode()
	}
	c.render(q.w, q, 200, "webhooks", view{Title: "Webhooks", Nav: "webhooks", Flash: flash(q), Data: d})
	return nil
}

type deliveryData struct {
	M    *domain.OutboxMessage
	Body string
}

func deliveryID(q *request) (int64, error) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, domain.NotFound("not_found", "There is no such webhook delivery.")
	}
	return id, nil
}

func (c *Console) deliveryPage(q *request) error {
	id, err := deliveryID(q)
	if err != nil {
		return err
	}
	m, err := c.o.Deliveries.Get(q.r.Context(), q.env.ID, id)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	if json.Indent(&body, m.Body, "", "  ") != nil {
		body.Reset()
		body.Write(m.Body)
	}
	c.render(q.w, q, 200, "delivery", view{Title: fmt.Sprintf("Delivery %d", m.ID), Nav: "webhooks", Flash: flash(q), Data: deliveryData{M: m, Body: body.String()}})
	return nil
}

func (c *Console) retryDelivery(q *request) error {
	id, err := deliveryID(q)
	if err != nil {
		return err
	}
	if err := c.o.Deliveries.Retry(q.r.Context(), q.env.ID, id); err != nil {
		return err
	}
	c.record(q, audit.WebhookRetry, "delivery "+strconv.FormatInt(id, 10), "")
	back := fmt.Sprintf("%s/webhooks/%d?done=retried", Prefix, id)
	if q.r.PostForm.Get("back") == "list" {
		back = Prefix + "/webhooks?done=retried"
	}
	return redirect(q, back)
}

type newKeyData struct {
	Key    string
	Record *domain.SecretKey
}

type environmentData struct {
	Name          string
	Keys          []*domain.SecretKey
	Current       int64
	Active        int
	NewKey        *newKeyData
	Label         string
	SigningKeySet bool
	SigningKey    string
	NewSigningKey bool
}

func (c *Console) environmentPage(q *request) error {
	return c.showEnvironment(q, 200, view{Flash: flash(q)}, environmentData{})
}

func (c *Console) showEnvironment(q *request, status int, v view, d environmentData) error {
	keys, err := c.o.Keys.List(q.r.Context(), q.env.ID)
	if err != nil {
		return err
	}
	d.Name, d.Keys, d.Current, d.SigningKeySet = q.env.Name, keys, q.sess.SecretKeyID, q.env.WebhookSigningKey != ""
	for _, k := range keys {
		if k.Active() {
			d.Active++
		}
	}
	if d.SigningKey == "" && d.SigningKeySet {
		if d.SigningKey, err = c.o.Settings.SigningKey(q.env); err != nil {
			return err
		}
	}
	v.Title, v.Nav, v.Data = "Environment "+q.env.Name, "environment", d
	c.render(q.w, q, status, "environment", v)
	return nil
}

func (c *Console) createKey(q *request) error {
	label := q.r.PostForm.Get("label")
	key, k, err := c.o.Keys.Create(q.r.Context(), q.env, label)
	if p, ok := formProblem(err); ok {
		return c.showEnvironment(q, statusOf[p.Kind], view{Error: "No key was created: " + p.Message, Fields: p.Fields}, environmentData{Label: label})
	}
	if err != nil {
		return err
	}
	detail := ""
	if k.Label != "" {
		detail = "label: " + k.Label
	}
	c.record(q, audit.SecretKeyCreate, fmt.Sprintf("key %d", k.ID), detail)
	return c.showEnvironment(q, 201, view{}, environmentData{NewKey: &newKeyData{Key: key, Record: k}})
}

type revokeData struct {
	Key *domain.SecretKey
	Own bool
}

func (c *Console) keyOf(q *request, raw string) (*domain.SecretKey, error) {
	id, _ := strconv.ParseInt(raw, 10, 64)
	keys, err := c.o.Keys.List(q.r.Context(), q.env.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return nil, domain.NotFound("unknown_secret_key", "There is no such secret key in this environment.")
}

func (c *Console) confirmRevoke(q *request) error {
	k, err := c.keyOf(q, q.r.URL.Query().Get("id"))
	if err != nil {
		return err
	}
	c.render(q.w, q, 200, "confirm-revoke", view{Title: fmt.Sprintf("Revoke key %d", k.ID), Nav: "environment", Data: revokeData{Key: k, Own: k.ID == q.sess.SecretKeyID}})
	return nil
}

func (c *Console) revokeKey(q *request) error {
	k, err := c.keyOf(q, q.r.PostForm.Get("id"))
	if err != nil {
		return err
	}
	if _, err := c.o.Keys.Revoke(q.r.Context(), q.env.ID, k.ID); err != nil {
		if p, ok := formProblem(err); ok {
			return c.showEnvironment(q, statusOf[p.Kind], view{Error: "The key was not revoked: " + p.Message}, environmentData{})
		}
		return err
	}
	detail := ""
	if k.Label != "" {
		detail = "label: " + k.Label
	}
	c.record(q, audit.SecretKeyRevoke, fmt.Sprintf("key %d", k.ID), detail)
	if k.ID == q.sess.SecretKeyID {
		// The revocation ended this session with the key.
		c.clearCookie(q.w, c.cookieName())
		return redirect(q, Prefix+"/sign-in?done=revoked")
	}
	return redirect(q, Prefix+"/environment?done=revoked")
}

func (c *Console) confirmRotate(q *request) error {
	c.render(q.w, q, 200, "confirm-rotate", view{Title: "Replace the webhook signing key", Nav: "environment", Data: q.env.Name})
	return nil
}

func (c *Console) rotateSigningKey(q *request) error {
	s, err := c.o.Settings.Rotate(q.r.Context(), q.env.ID)
	if err != nil {
		return err
	}
	c.record(q, audit.SigningKeyRotate, "environment "+q.env.Name, "")
	q.env.WebhookSigningKey = "set"
	return c.showEnvironment(q, 200, view{Flash: doneMessages["rotated"]}, environmentData{SigningKey: s.WebhookSigningKey, NewSigningKey: true})
}

type auditData struct {
	Entries []*domain.AuditEntry
	Action  string
	Actions []string
	NextURL string
}

const auditPerPage = 50

func (c *Console) auditPage(q *request) error {
	v := q.r.URL.Query()
	action := v.Get("action")
	if !slices.Contains(audit.Actions, action) {
		action = ""
	}
	before, _ := strconv.ParseInt(v.Get("before"), 10, 64)
	list, err := c.o.Audit.List(q.r.Context(), q.env.ID, domain.AuditFilter{Action: action, BeforeID: max(before, 0), Limit: auditPerPage})
	if err != nil {
		return err
	}
	d := auditData{Entries: list, Action: action, Actions: audit.Actions}
	if len(list) == auditPerPage {
		u := url.Values{"before": {strconv.FormatInt(list[len(list)-1].ID, 10)}}
		if action != "" {
			u.Set("action", action)
		}
		d.NextURL = Prefix + "/audit?" + u.Encode()
	}
	c.render(q.w, q, 200, "audit", view{Title: "Audit trail", Nav: "audit", Data: d})
	return nil
}
