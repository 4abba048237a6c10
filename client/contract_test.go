package client_test

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/latchkeyhq/latchkey/client"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
)

// wireType pairs an SDK type with the OpenAPI schema it is the wire form of.
type wireType struct {
	goType reflect.Type
	schema string // a component schema, or "Schema.property" for a nested object
	// request types are sent: every property the schema requires must be a
	// field that is always sent.
	request bool
	// left lists the schema's properties the SDK leaves out on purpose.
	left []string
	// answerOnly lists fields of a type shared by a request and an answer
	// that only answers carry (omitempty: a request never sends them).
	answerOnly []string
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

var wireTypes = []wireType{
	{goType: typeOf[client.EndUser](), schema: "EndUserInput", request: true},
	{goType: typeOf[client.Organization](), schema: "OrganizationInput", request: true},
	{goType: typeOf[client.IntegrationDefaults](), schema: "IntegrationDefaults", request: true,
		left: []string{"user_scopes", "authorization_params"}}, // OAuth-only, not used by latchkey's providers
	{goType: typeOf[client.ConnectSessionRequest](), schema: "ConnectSessionRequest", request: true,
		left: []string{"overrides"}}, // the Connect UI's doc links; not exposed by the SDK yet
	{goType: typeOf[client.ReconnectSessionRequest](), schema: "ReconnectSessionRequest", request: true,
		left: []string{"organization", "allowed_integrations", "overrides", "webhook_url_override"}},
	{goType: typeOf[client.ConnectSession](), schema: "ConnectSession"},
	{goType: typeOf[client.SessionInfo](), schema: "ConnectSessionInfo.data",
		left: []string{"connectUISettings", "overrides", "reconnect"}}, // for the Connect UI
	{goType: typeOf[client.EndUserView](), schema: "EndUser"},
	{goType: typeOf[client.Organization](), schema: "Organization"},
	{goType: typeOf[client.Warning](), schema: "Warning"},
	{goType: typeOf[client.AuthResult](), schema: "SubmitResult",
		left: []string{"account"}}, // for the Connect UI's success screen
	{goType: typeOf[client.Credentials](), schema: "Credentials"},
	{goType: typeOf[client.ConnectionError](), schema: "ConnectionError"},
	{goType: typeOf[client.Connection](), schema: "Connection"},
	{goType: typeOf[client.ConnectionSummary](), schema: "ConnectionSummary",
		left: []string{"credentials_expires_at"}},
	{goType: typeOf[client.ImportConnectionRequest](), schema: "ImportConnectionRequest", request: true},
	{goType: typeOf[client.Credentials](), schema: "ImportCredentials", request: true,
		answerOnly: []string{"raw"}}, // OAUTH2_CC's token answer, read back only
	{goType: typeOf[client.PatchConnectionRequest](), schema: "PatchConnectionRequest", request: true},
	{goType: typeOf[client.Integration](), schema: "Integration"},
	{goType: typeOf[client.CreateIntegrationRequest](), schema: "CreateIntegrationRequest", request: true,
		left: []string{"credentials", "integration_config", "custom"}}, // refused or unused for latchkey's providers
	{goType: typeOf[client.UpdateIntegrationRequest](), schema: "UpdateIntegrationRequest", request: true,
		left: []string{"provider", "credentials", "integration_config", "custom"}},
	{goType: typeOf[client.FieldError](), schema: "FieldError"},
	{goType: typeOf[client.Error](), schema: "Error.error"},
}

// The Go SDK's request and response types (client/types.go) are checked
// against the OpenAPI document's schemas, so the two cannot drift: every field
// is a property of the schema with a compatible JSON type, a request sends
// every required property, a field that can be null in an answer can hold
// null, and every property the SDK does not have is listed above as left out
// on purpose.
func TestSDKTypesMatchDocument(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wireTypes {
		name, prop, _ := strings.Cut(w.schema, ".")
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Errorf("%s: no schema %s", w.goType, name)
			continue
		}
		s := ref.Value
		if prop != "" {
			s = s.Properties[prop].Value
		}
		checkStruct(t, w, s)
	}
}

func checkStruct(t *testing.T, w wireType, s *openapi3.Schema) {
	where := w.goType.String() + " (" + w.schema + ")"
	seen := map[string]bool{}
	for i := range w.goType.NumField() {
		f := w.goType.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		jsonName, opts, _ := strings.Cut(tag, ",")
		if jsonName == "" {
			jsonName = f.Name
		}
		seen[jsonName] = true
		p := s.Properties[jsonName]
		if p == nil && slices.Contains(w.answerOnly, jsonName) {
			if !strings.Contains(opts, "omitempty") {
				t.Errorf("%s: answer-only field %s is sent in requests (no omitempty)", where, f.Name)
			}
			continue
		}
		if p == nil {
			t.Errorf("%s: field %s (%q) is not in the schema", where, f.Name, jsonName)
			continue
		}
		if why := compatible(f.Type, p.Value); why != "" {
			t.Errorf("%s: field %s (%q) is %s, the schema says %s: %s", where, f.Name, jsonName, f.Type, describe(p.Value), why)
		}
		required := slices.Contains(s.Required, jsonName)
		if w.request && required && strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			t.Errorf("%s: %q is required, but the field is omitted when empty", where, jsonName)
		}
		if !w.request && nullable(p.Value) && !canBeNull(f.Type) {
			t.Errorf("%s: %q may be null in an answer, but field %s (%s) cannot hold null", where, jsonName, f.Name, f.Type)
		}
	}
	var missing []string
	for name := range s.Properties {
		if !seen[name] && !slices.Contains(w.left, name) {
			missing = append(missing, name)
		}
		if seen[name] && slices.Contains(w.left, name) {
			t.Errorf("%s: %q is listed as left out but the SDK has it", where, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s: the SDK has no field for %v: add them, or list them as left out on purpose", where, missing)
	}
	if w.request {
		for _, r := range s.Required {
			if !seen[r] {
				t.Errorf("%s: the schema requires %q, which the SDK cannot send", where, r)
			}
		}
	}
}

// jsonTypes is what the schema allows, without "null".
func jsonTypes(s *openapi3.Schema) (types []string, null bool) {
	if s.Type != nil {
		for _, typ := range *s.Type {
			if typ == "null" {
				null = true
			} else {
				types = append(types, typ)
			}
		}
	}
	for _, alt := range append(s.AnyOf, s.OneOf...) {
		ts, n := jsonTypes(alt.Value)
		types, null = append(types, ts...), null || n
	}
	return types, null
}

func nullable(s *openapi3.Schema) bool { _, n := jsonTypes(s); return n }

func describe(s *openapi3.Schema) string {
	ts, n := jsonTypes(s)
	if n {
		ts = append(ts, "null")
	}
	if len(ts) == 0 {
		return "any"
	}
	return strings.Join(ts, " or ")
}

func canBeNull(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return true
	}
	return false
}

// compatible says why a Go type cannot carry what the schema describes ("" if it can).
func compatible(t reflect.Type, s *openapi3.Schema) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	types, _ := jsonTypes(s)
	if len(types) == 0 || t.Kind() == reflect.Interface {
		return ""
	}
	var want string
	switch t.Kind() {
	case reflect.String:
		want = "string"
	case reflect.Bool:
		want = "boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		want = "integer"
	case reflect.Float64:
		want = "number"
	case reflect.Slice:
		want = "array"
	case reflect.Map, reflect.Struct:
		want = "object"
	default:
		return "unhandled Go kind " + t.Kind().String()
	}
	if slices.Contains(types, want) || (want == "integer" && slices.Contains(types, "number")) {
		return ""
	}
	if want == "string" && slices.Contains(types, "array") && slices.Contains(types, "string") {
		return ""
	}
	return "a JSON " + want
}
