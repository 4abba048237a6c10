package cli

// The commands that work on a running server through its API (and the Go SDK
// in client/), as a backend would: connections, sessions, integrations. Each
// subcommand declares its flags on a FlagSet; the usage text and the shell
// completions are made from the same table.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/config"
)

// Exit codes of the API commands (docs/cli.md).
const (
	exitOK          = 0
	exitAPIError    = 1 // the server answered with an error; its code and message are printed
	exitUsage       = 2 // a mistake on the command line, or no secret key
	exitUnreachable = 3 // no answer from the server
	exitCheckFailed = 4 // connections check ran, and the connection is not ok
)

// apiCommand is a command whose subcommands call the API.
type apiCommand struct {
	name, synopsis, about string
	subs                  []apiSub
}

// apiSub is one subcommand: its arguments, what it does, and setup, which
// declares its flags and returns what runs once they are parsed.
type apiSub struct {
	name, args, synopsis string
	setup                func(fs *flag.FlagSet) apiRun
}

// apiRun runs a subcommand with its positional arguments.
type apiRun func(ctx context.Context, c *client.Client, args []string) (*result, error)

// result is what a subcommand found: JSON for --json, text for people, and
// an exit code other than 0 when it has something to say (check).
type result struct {
	json any
	text func(w io.Writer)
	exit int
}

// usageError is a mistake on the command line found after parsing.
type usageError string

func (e usageError) Error() string { return string(e) }

// commonFlags are on every API subcommand.
type commonFlags struct {
	url  *string
	json *bool
}

func addCommonFlags(fs *flag.FlagSet) commonFlags {
	return commonFlags{
		url:  fs.String("url", "", "the server's base `URL` (default: LATCHKEY_PUBLIC_URL, else http:// and LATCHKEY_ADDR, as serve computes it)"),
		json: fs.Bool("json", false, "print JSON (for scripts) instead of a table"),
	}
}

func (a apiCommand) sub(name string) (apiSub, bool) {
	for _, s := range a.subs {
		if s.name == name {
			return s, true
		}
	}
	return apiSub{}, false
}

// flagSet is the subcommand's flags, the common ones included.
func (a apiCommand) flagSet(s apiSub) (*flag.FlagSet, commonFlags, apiRun) {
	fs := flag.NewFlagSet(a.name+" "+s.name, flag.ContinueOnError)
	common := addCommonFlags(fs)
	run := s.setup(fs)
	return fs, common, run
}

// usage is the command's help, with every flag of every subcommand.
func (a apiCommand) usage() string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, s := range a.subs {
		line := "latchkey " + a.name + " " + s.name
		if s.args != "" {
			line += " " + s.args
		}
		fmt.Fprintf(&b, "  %-52s %s\n", line+" [flags]", s.synopsis)
	}
	b.WriteString("\n" + a.about + "\n")
	for _, s := range a.subs {
		fs, _, _ := a.flagSet(s)
		fmt.Fprintf(&b, "\nFlags of %s:\n", s.name)
		fs.VisitAll(func(f *flag.Flag) {
			name, help := flag.UnquoteUsage(f)
			arg := "--" + f.Name
			if name != "" {
				arg += " " + name
			}
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				help += " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(&b, "  %-28s %s\n", arg, help)
		})
	}
	b.WriteString(apiFooter)
	return b.String()
}

const apiFooter = `
These talk to a running latchkey through its API, with the environment's secret
key from LATCHKEY_SECRET_KEY (or the file LATCHKEY_SECRET_KEY_FILE names). Flags
may come before or after the arguments.

Exit codes: 0 done; 1 the server refused (its error code and message are
printed); 2 a usage mistake or no secret key; 3 the server could not be reached;
4 connections check found the connection not ok.
`

// run parses the subcommand's flags and runs it.
func (a apiCommand) run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, a.usage())
		return exitUsage
	}
	s, ok := a.sub(args[0])
	if !ok {
		fmt.Fprintf(stderr, "latchkey %s: unknown subcommand %q (see latchkey help %s)\n", a.name, args[0], a.name)
		return exitUsage
	}
	fs, common, run := a.flagSet(s)
	positional, ok := parseInterleaved(fs, args[1:], stderr)
	if !ok {
		return exitUsage
	}
	name := a.name + " " + s.name
	base, err := serverURL(*common.url, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey %s: %v\n", name, err)
		return exitUsage
	}
	key, err := secretKeyFrom(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey %s: %v\n", name, err)
		return exitUsage
	}
	c := client.New(base, key, client.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}))
	res, err := run(ctx, c, positional)
	if err != nil {
		return reportError(name, base, err, *common.json, stderr)
	}
	if *common.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res.json); err != nil {
			fmt.Fprintf(stderr, "latchkey %s: %v\n", name, err)
			return exitAPIError
		}
	} else {
		res.text(stdout)
	}
	return res.exit
}

// parseInterleaved parses flags wherever they are among the arguments
// ("show ID --integration jira" as well as "show --integration jira ID");
// everything after "--" is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, bool) {
	var positional []string
	for {
		if !parseFlags(fs, args, stderr) {
			return nil, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// serverURL is --url, else the public URL serve would use with the same
// LATCHKEY_PUBLIC_URL and LATCHKEY_ADDR.
func serverURL(flagURL string, getenv func(string) string) (string, error) {
	if flagURL != "" {
		u, err := url.Parse(flagURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return "", fmt.Errorf("--url %q: must be the server's http(s) base URL, such as http://127.0.0.1:3003", flagURL)
		}
		return strings.TrimRight(flagURL, "/"), nil
	}
	only := func(k string) string {
		if k == "LATCHKEY_PUBLIC_URL" || k == "LATCHKEY_ADDR" {
			return getenv(k)
		}
		return ""
	}
	cfg, err := config.Load(only, nil, io.Discard)
	if err != nil {
		return "", fmt.Errorf("no --url, and the server's URL cannot be computed: %v", err)
	}
	return cfg.PublicURL, nil
}

// secretKeyFrom reads LATCHKEY_SECRET_KEY or the file LATCHKEY_SECRET_KEY_FILE names.
func secretKeyFrom(getenv func(string) string) (string, error) {
	v, file := strings.TrimSpace(getenv("LATCHKEY_SECRET_KEY")), getenv("LATCHKEY_SECRET_KEY_FILE")
	switch {
	case v != "" && file != "":
		return "", errors.New("LATCHKEY_SECRET_KEY and LATCHKEY_SECRET_KEY_FILE are both set; use one")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("LATCHKEY_SECRET_KEY_FILE: %w", err)
		}
		v = strings.TrimSpace(string(b))
	}
	if v == "" {
		return "", errors.New("no secret key: set LATCHKEY_SECRET_KEY (or LATCHKEY_SECRET_KEY_FILE) to the environment's secret key, the one latchkey serve printed at first start")
	}
	return v, nil
}

// reportError says what went wrong and returns the exit code.
func reportError(name, base string, err error, asJSON bool, stderr io.Writer) int {
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "latchkey %s: %s\n", name, ue)
		return exitUsage
	}
	var ae *client.Error
	if errors.As(err, &ae) {
		if asJSON {
			enc := json.NewEncoder(stderr)
			enc.SetEscapeHTML(false)
			enc.Encode(map[string]any{"error": map[string]any{"status": ae.Status, "code": ae.Code, "message": ae.Message, "errors": ae.Errors}})
			return exitAPIError
		}
		fmt.Fprintf(stderr, "latchkey %s: %s (HTTP %d): %s\n", name, ae.Code, ae.Status, ae.Message)
		for _, f := range ae.Errors {
			if f.Message != ae.Message || len(ae.Errors) > 1 {
				fmt.Fprintf(stderr, "  - %s: %s\n", strings.Join(f.Path, "."), f.Message)
			}
		}
		return exitAPIError
	}
	var ne *url.Error
	if errors.As(err, &ne) {
		fmt.Fprintf(stderr, "latchkey %s: cannot reach latchkey at %s: %v\n", name, base, errors.Unwrap(ne))
		return exitUnreachable
	}
	fmt.Fprintf(stderr, "latchkey %s: %v\n", name, err)
	return exitAPIError
}

// stringList is a repeatable flag (also comma-separated).
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// tagFlags is a repeatable key=value flag.
type tagFlags map[string]string

func (t tagFlags) String() string { return "" }
func (t tagFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	t[strings.TrimSpace(k)] = val
	return nil
}

func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func dashPtr(s *string) string {
	if s == nil {
		return "-"
	}
	return dash(*s)
}

func oneArg(args []string, what string) (string, error) {
	switch len(args) {
	case 0:
		return "", usageError("missing " + what)
	case 1:
		return args[0], nil
	}
	return "", usageError(fmt.Sprintf("unexpected argument %q", args[1]))
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", args[0]))
	}
	return nil
}

// integrationOf is the integration of a connection: the flag when given,
// else the one integration that has a connection with this id.
func integrationOf(ctx context.Context, c *client.Client, connectionID, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	list, err := c.ListConnections(ctx, client.ListConnectionsOptions{ConnectionID: connectionID})
	if err != nil {
		return "", err
	}
	var keys []string
	for _, s := range list {
		if s.ConnectionID == connectionID {
			keys = append(keys, s.ProviderConfigKey)
		}
	}
	switch len(keys) {
	case 0:
		return "", &client.Error{Status: http.StatusNotFound, Code: "unknown_connection", Message: "There is no connection " + connectionID + " in this environment."}
	case 1:
		return keys[0], nil
	}
	sort.Strings(keys)
	return "", usageError(fmt.Sprintf("connection %s exists in several integrations (%s): name one with --integration", connectionID, strings.Join(keys, ", ")))
}

func endUserText(u *client.EndUserView) string {
	if u == nil {
		return "-"
	}
	s := u.ID
	if u.Email != nil && *u.Email != "" {
		s += " <" + *u.Email + ">"
	}
	if u.DisplayName != nil && *u.DisplayName != "" {
		s += " " + *u.DisplayName
	}
	return s
}

func pairs[V any](m map[string]V) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func apiCommands() []apiCommand {
	return []apiCommand{connectionsCommand(), sessionsCommand(), integrationsCommand()}
}

func connectionsCommand() apiCommand {
	return apiCommand{name: "connections", synopsis: "list|show|check|delete: connections on a running server, through the API",
		about: "Connections are what end users linked. show prints no credentials unless --credentials;\n" +
			"check re-verifies a connection with its provider now, as the scheduled health check does.\n" +
			"The integration of a connection is found by its id unless --integration names it.",
		subs: []apiSub{
			{name: "list", synopsis: "connections, with their status", setup: connectionsList},
			{name: "show", args: "CONNECTION_ID", synopsis: "one connection: status, checks, expiry, account, events", setup: connectionsShow},
			{name: "check", args: "CONNECTION_ID", synopsis: "re-verify a connection now (exit 4 when not ok)", setup: connectionsCheck},
			{name: "delete", args: "CONNECTION_ID", synopsis: "delete a connection (needs --yes)", setup: connectionsDelete},
		}}
}

func connectionsList(fs *flag.FlagSet) apiRun {
	var integrations stringList
	tags := tagFlags{}
	fs.Var(&integrations, "integration", "only these integrations' `KEY`s (repeat, or comma-separated)")
	endUser := fs.String("end-user", "", "only the connections of the end user with this `ID`")
	status := fs.String("status", "", "only this `STATUS`: ok, scope_missing, invalid_credentials, expired, unreachable")
	search := fs.String("search", "", "only connections whose id, end-user id, email or name contains `TEXT`")
	fs.Var(tags, "tag", "only connections with this `key=value` tag (repeat for several)")
	limit := fs.Int("limit", 100, "at most `N` connections (1 to 2000)")
	page := fs.Int("page", 0, "page `N`, from 0, of --limit connections each")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		if err := noArgs(args); err != nil {
			return nil, err
		}
		list, err := c.ListConnections(ctx, client.ListConnectionsOptions{IntegrationIDs: integrations, EndUserID: *endUser, Status: *status,
			Search: *search, Tags: tags, Limit: *limit, Page: *page})
		if err != nil {
			return nil, err
		}
		return &result{json: list, text: func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No connections.")
				return
			}
			rows := make([][]string, len(list))
			for i, s := range list {
				rows[i] = []string{s.ConnectionID, s.ProviderConfigKey, endUserText(s.EndUser), dash(s.Status), s.Created}
			}
			table(w, []string{"CONNECTION ID", "INTEGRATION", "END USER", "STATUS", "CREATED"}, rows)
			if len(list) == *limit {
				fmt.Fprintf(w, "(%d shown; --page %d for the next ones)\n", len(list), *page+1)
			}
		}}, nil
	}
}

func connectionsShow(fs *flag.FlagSet) apiRun {
	integration := fs.String("integration", "", "the connection's integration `KEY` (found from the id when not given)")
	events := fs.Int("events", 10, "show the latest `N` operation-log events (0: none)")
	creds := fs.Bool("credentials", false, "print the credentials too")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		id, err := oneArg(args, "CONNECTION_ID")
		if err != nil {
			return nil, err
		}
		key, err := integrationOf(ctx, c, id, *integration)
		if err != nil {
			return nil, err
		}
		conn, err := c.GetConnection(ctx, key, id)
		if err != nil {
			return nil, err
		}
		if !*creds {
			conn.Credentials = client.Credentials{Type: conn.Credentials.Type}
		}
		var evs []client.Event
		if *events > 0 {
			page, err := c.ConnectionEvents(ctx, key, id, client.PageOptions{Limit: min(*events, 500)})
			if err != nil {
				return nil, err
			}
			evs = page.Data
		}
		out := struct {
			Connection *client.Connection `json:"connection"`
			Events     []client.Event     `json:"events"`
		}{conn, evs}
		if out.Events == nil {
			out.Events = []client.Event{}
		}
		return &result{json: out, text: func(w io.Writer) { showConnection(w, conn, evs, *creds, *events > 0) }}, nil
	}
}

func showConnection(w io.Writer, conn *client.Connection, evs []client.Event, creds, withEvents bool) {
	var errs []string
	for _, e := range conn.Errors {
		errs = append(errs, e.Type)
	}
	var warns []string
	for _, wn := range conn.Warnings {
		warns = append(warns, wn.Message)
	}
	rows := [][]string{
		{"connection", conn.ConnectionID},
		{"integration", conn.ProviderConfigKey + " (" + conn.Provider + ")"},
		{"status", dash(conn.Status)},
		{"end user", endUserText(conn.EndUser)},
		{"created", conn.CreatedAt},
		{"updated", conn.UpdatedAt},
		{"last verified", dashPtr(conn.LastVerifiedAt)},
		{"token expires", dashPtr(conn.CredentialsExpiresAt)},
		{"account", pairs(conn.ConnectionConfig)},
		{"tags", pairs(conn.Tags)},
		{"metadata", pairs(conn.Metadata)},
		{"errors", dash(strings.Join(errs, ", "))},
		{"warnings", dash(strings.Join(warns, " "))},
	}
	if creds {
		b, _ := json.Marshal(conn.Credentials)
		rows = append(rows, []string{"credentials", string(b)})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	if !withEvents {
		return
	}
	fmt.Fprintln(w)
	if len(evs) == 0 {
		fmt.Fprintln(w, "No events.")
		return
	}
	rowsEv := make([][]string, len(evs))
	for i, e := range evs {
		rowsEv[i] = []string{e.At, e.Kind, e.Outcome, e.Message}
	}
	table(w, []string{"AT", "KIND", "OUTCOME", "MESSAGE"}, rowsEv)
}

func connectionsCheck(fs *flag.FlagSet) apiRun {
	integration := fs.String("integration", "", "the connection's integration `KEY` (found from the id when not given)")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		id, err := oneArg(args, "CONNECTION_ID")
		if err != nil {
			return nil, err
		}
		key, err := integrationOf(ctx, c, id, *integration)
		if err != nil {
			return nil, err
		}
		r, err := c.VerifyConnection(ctx, key, id)
		if err != nil {
			return nil, err
		}
		exit := exitOK
		if r.Status != "ok" {
			exit = exitCheckFailed
		}
		return &result{json: r, exit: exit, text: func(w io.Writer) {
			change := r.Status
			if r.PreviousStatus != r.Status {
				change += " (was " + r.PreviousStatus + ")"
			}
			fmt.Fprintf(w, "%s/%s: %s\n", r.ProviderConfigKey, r.ConnectionID, change)
			if r.Message != "" {
				fmt.Fprintln(w, r.Message)
			}
			for _, wn := range r.Warnings {
				fmt.Fprintln(w, "warning: "+wn.Message)
			}
			if !r.Verified && r.Status != "expired" {
				fmt.Fprintf(w, "The provider did not answer (%d failure(s) in a row).\n", r.ConsecutiveFailures)
			}
			fmt.Fprintf(w, "next check %s\n", r.NextCheckAt)
		}}, nil
	}
}

func connectionsDelete(fs *flag.FlagSet) apiRun {
	integration := fs.String("integration", "", "the connection's integration `KEY` (found from the id when not given)")
	yes := fs.Bool("yes", false, "really delete (it cannot be undone)")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		id, err := oneArg(args, "CONNECTION_ID")
		if err != nil {
			return nil, err
		}
		if !*yes {
			return nil, usageError("deleting a connection cannot be undone (its end user must link the account again): add --yes")
		}
		key, err := integrationOf(ctx, c, id, *integration)
		if err != nil {
			return nil, err
		}
		if err := c.DeleteConnection(ctx, key, id); err != nil {
			return nil, err
		}
		return &result{json: map[string]any{"deleted": true, "connection_id": id, "provider_config_key": key}, text: func(w io.Writer) {
			fmt.Fprintf(w, "Deleted connection %s of integration %s.\n", id, key)
		}}, nil
	}
}

func sessionsCommand() apiCommand {
	return apiCommand{name: "sessions", synopsis: "create: a connect session for an end user; prints the connect link",
		about: "A connect session lets one end user link an account through the Connect UI for 30 minutes:\n" +
			"send them the link printed. With --reconnect it renews an existing connection's\n" +
			"credentials instead (the link to send a customer whose connection broke).",
		subs: []apiSub{{name: "create", synopsis: "a connect session; prints the link", setup: sessionsCreate}}}
}

func sessionsCreate(fs *flag.FlagSet) apiRun {
	var integrations stringList
	tags := tagFlags{}
	endUser := fs.String("end-user", "", "your `ID` for the end user (required, except with --reconnect)")
	email := fs.String("email", "", "the end user's `EMAIL`")
	name := fs.String("display-name", "", "the end user's `NAME`")
	fs.Var(&integrations, "integration", "the `KEY` of an integration the session may link (repeat, or comma-separated; default: all); with --reconnect, the connection's")
	reconnect := fs.String("reconnect", "", "a `CONNECTION_ID` whose credentials the session renews")
	fs.Var(tags, "tag", "a `key=value` tag for the end user (repeat for several)")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		if err := noArgs(args); err != nil {
			return nil, err
		}
		var user *client.EndUser
		if *endUser != "" {
			user = &client.EndUser{ID: *endUser, Email: *email, DisplayName: *name}
			if len(tags) > 0 {
				user.Tags = tags
			}
		} else if *email != "" || *name != "" || len(tags) > 0 {
			return nil, usageError("--email, --display-name and --tag describe the --end-user: give --end-user too")
		}
		var s *client.ConnectSession
		var err error
		if *reconnect != "" {
			if len(integrations) > 1 {
				return nil, usageError("--reconnect takes the one integration of the connection")
			}
			key := ""
			if len(integrations) == 1 {
				key = integrations[0]
			}
			if key, err = integrationOf(ctx, c, *reconnect, key); err != nil {
				return nil, err
			}
			s, err = c.CreateReconnectSession(ctx, client.ReconnectSessionRequest{ConnectionID: *reconnect, IntegrationID: key, EndUser: user})
		} else {
			if user == nil {
				return nil, usageError("--end-user is required: the id your product knows the end user by")
			}
			s, err = c.CreateConnectSession(ctx, client.ConnectSessionRequest{EndUser: user, AllowedIntegrations: integrations})
		}
		if err != nil {
			return nil, err
		}
		return &result{json: s, text: func(w io.Writer) {
			fmt.Fprintln(w, s.ConnectLink)
			fmt.Fprintf(w, "expires %s\n", s.ExpiresAt)
		}}, nil
	}
}

func integrationsCommand() apiCommand {
	return apiCommand{name: "integrations", synopsis: "list|create: integrations on a running server, through the API",
		about: "An integration is a provider of the catalogue (GET /providers) under a key of yours, such\n" +
			"as jira for atlassian-service-account-api-token; connections belong to one.",
		subs: []apiSub{
			{name: "list", synopsis: "integrations", setup: integrationsList},
			{name: "create", args: "KEY", synopsis: "an integration of --provider under KEY", setup: integrationsCreate},
		}}
}

func integrationsList(fs *flag.FlagSet) apiRun {
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		if err := noArgs(args); err != nil {
			return nil, err
		}
		list, err := c.ListIntegrations(ctx)
		if err != nil {
			return nil, err
		}
		return &result{json: list, text: func(w io.Writer) {
			if len(list) == 0 {
				fmt.Fprintln(w, "No integrations. Create one with latchkey integrations create KEY --provider PROVIDER.")
				return
			}
			rows := make([][]string, len(list))
			for i, in := range list {
				rows[i] = []string{in.UniqueKey, in.Provider, dash(in.DisplayName), in.CreatedAt}
			}
			table(w, []string{"KEY", "PROVIDER", "DISPLAY NAME", "CREATED"}, rows)
		}}, nil
	}
}

func integrationsCreate(fs *flag.FlagSet) apiRun {
	provider := fs.String("provider", "", "the catalogue's `PROVIDER`, such as atlassian-service-account-api-token (required)")
	name := fs.String("display-name", "", "the `NAME` end users see (default: the provider's)")
	return func(ctx context.Context, c *client.Client, args []string) (*result, error) {
		key, err := oneArg(args, "KEY (the integration's unique key, such as jira)")
		if err != nil {
			return nil, err
		}
		if *provider == "" {
			return nil, usageError("--provider is required (GET /providers lists them)")
		}
		in, err := c.CreateIntegration(ctx, client.CreateIntegrationRequest{Provider: *provider, UniqueKey: key, DisplayName: *name})
		if err != nil {
			return nil, err
		}
		return &result{json: in, text: func(w io.Writer) {
			fmt.Fprintf(w, "Created integration %s (%s, %q).\n", in.UniqueKey, in.Provider, in.DisplayName)
		}}, nil
	}
}
