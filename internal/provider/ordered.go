package provider

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/latchkeyhq/latchkey/internal/httpx"
	"go.yaml.in/yaml/v3"
)

// Ordered is a JSON object that keeps its keys in the order the YAML gave them.
// The Connect UI (ours and Nango's) numbers credential fields in that order.
type Ordered []Member

// Member is one key of an Ordered object.
type Member struct {
	Key   string
	Value any
}

// Get returns the value of key.
func (o Ordered) Get(key string) (any, bool) {
	for _, m := range o {
		if m.Key == key {
			return m.Value, true
		}
	}
	return nil, false
}

// With returns a copy with key set (replaced in place, or appended).
func (o Ordered) With(key string, v any) Ordered {
	out := make(Ordered, 0, len(o)+1)
	found := false
	for _, m := range o {
		if m.Key == key {
			m.Value, found = v, true
		}
		out = append(out, m)
	}
	if !found {
		out = append(out, Member{key, v})
	}
	return out
}

// MarshalJSON writes the members in order.
func (o Ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		v, err := httpx.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fromNode converts a YAML node into Ordered objects, slices and scalars.
func fromNode(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return fromNode(n.Content[0])
		}
		return nil
	case yaml.MappingNode:
		o := make(Ordered, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			o = append(o, Member{n.Content[i].Value, fromNode(n.Content[i+1])})
		}
		return o
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = fromNode(c)
		}
		return out
	case yaml.AliasNode:
		return fromNode(n.Alias)
	}
	switch n.Tag {
	case "!!bool":
		b, _ := strconv.ParseBool(n.Value)
		return b
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		// NaN and ±Inf stay text: JSON has no such numbers, and the API serves this.
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	case "!!null":
		return nil
	}
	return n.Value
}
