package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the YAML config file at path on top of Default(). It does not
// validate: the CLI applies flags and the environment first, then calls
// Validate. See Parse for what the file may hold.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a YAML config, named name in errors, on top of Default().
//
//   - A key left out, or given without a value (null), keeps its default;
//     an empty file is valid and gives Default().
//   - A list or a mapping that is given replaces its default as a whole
//     (desk.addresses, ari.menu). The sla table is the exception: each of
//     P1..P4 it leaves out, and each field left out of an entry, keeps its
//     default.
//   - mail.from is the first of desk.addresses unless it is set.
//   - An unknown key, a duplicate key and a value of the wrong type are
//     errors that name the key, its path and its line, e.g.
//     `config hotline.yaml: line 12: unknown key "rign_seconds" in sip`.
//     All such problems are reported at once.
func Parse(data []byte, name string) (*Config, error) {
	base := Default()
	base.Mail.From = ""

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return finish(base), nil
		}
		return nil, fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, fmt.Errorf("config %s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, fmt.Errorf("config %s: line %d: a second YAML document; the config is one document", name, line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return finish(base), nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return finish(base), nil
	}

	w := walker{}
	w.walk(root, reflect.TypeFor[Config](), "", []int{}, 0)
	if len(w.errs) > 0 {
		errs := make([]error, len(w.errs))
		for i, e := range w.errs {
			errs[i] = fmt.Errorf("config %s: %s", name, e)
		}
		return nil, errors.Join(errs...)
	}

	// Given mappings replace their defaults rather than merge into them.
	bv := reflect.ValueOf(base).Elem()
	for _, idx := range w.maps {
		f := bv.FieldByIndex(idx)
		f.Set(reflect.Zero(f.Type()))
	}
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(base); err != nil {
		// The walk above reports the same problems, with their paths;
		// this is the backstop.
		return nil, fmt.Errorf("config %s: %s", name, yamlErrorText(err))
	}
	// Null values keep their defaults (yaml.v3 would empty a list or map).
	def := Default()
	def.Mail.From = ""
	dv := reflect.ValueOf(def).Elem()
	for _, idx := range w.nulls {
		bv.FieldByIndex(idx).Set(dv.FieldByIndex(idx))
	}
	return finish(base), nil
}

// finish fills in the defaults that depend on other keys.
func finish(c *Config) *Config {
	if c.Mail.From == "" && len(c.Desk.Addresses) > 0 {
		c.Mail.From = c.Desk.Addresses[0]
	}
	def := Default().SLA
	if c.SLA == nil {
		c.SLA = map[string]SLA{}
	}
	for p, d := range def {
		s, ok := c.SLA[p]
		if !ok {
			c.SLA[p] = d
			continue
		}
		if s.Response == 0 {
			s.Response = d.Response
		}
		if s.Resolve == 0 {
			s.Resolve = d.Resolve
		}
		if s.Calendar == "" {
			s.Calendar = d.Calendar
		}
		c.SLA[p] = s
	}
	if c.Notify.Templates == nil {
		c.Notify.Templates = map[string]Template{}
	}
	for k, d := range DefaultTemplates() {
		t, ok := c.Notify.Templates[k]
		if !ok {
			c.Notify.Templates[k] = d
			continue
		}
		if t.Subject == "" {
			t.Subject = d.Subject
		}
		if t.Text == "" {
			t.Text = d.Text
		}
		c.Notify.Templates[k] = t
	}
	return c
}

func yamlErrorText(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// walker checks a YAML tree against the Config type before it is decoded,
// so that every problem is reported with its key path: unknown and
// duplicate keys, and values of the wrong type. It also notes the struct
// fields given as null and the map fields given at all (see Parse).
type walker struct {
	errs  []string
	nulls [][]int // struct field index paths from Config
	maps  [][]int
}

func (w *walker) errorf(n *yaml.Node, format string, args ...any) {
	w.errs = append(w.errs, fmt.Sprintf("line %d: ", n.Line)+fmt.Sprintf(format, args...))
}

// walk checks node n against type t at path. idx is the struct field index
// path from Config while only structs have been crossed, else nil.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string, idx []int, depth int) {
	if depth > 32 {
		w.errorf(n, "%s: nested too deep", orTop(path))
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if idx != nil {
			w.nulls = append(w.nulls, slices.Clone(idx))
		}
		return
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		w.leaf(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.errorf(n, "%s: want a mapping of keys, got %s", orTop(path), describe(n))
			return
		}
		w.structMapping(n, t, path, idx, depth, map[string]int{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.errorf(n, "%s: want %s, got %s", orTop(path), want(t), describe(n))
			return
		}
		for i, item := range n.Content {
			w.walk(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), nil, depth+1)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.errorf(n, "%s: want %s, got %s", orTop(path), want(t), describe(n))
			return
		}
		if idx != nil {
			w.maps = append(w.maps, slices.Clone(idx))
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				w.errorf(k, "%s: a key must be a plain value, got %s", path, describe(k))
				continue
			}
			if first, dup := seen[k.Value]; dup {
				w.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, path, first)
				continue
			}
			seen[k.Value] = k.Line
			w.walk(v, t.Elem(), path+"."+k.Value, nil, depth+1)
		}
	default:
		w.leaf(n, t, path)
	}
}

// structMapping checks the keys of a mapping decoded into struct type t.
// seen holds the keys met so far, by line; merged mappings ("<<: *anchor")
// share it but may be overridden.
func (w *walker) structMapping(n *yaml.Node, t reflect.Type, path string, idx []int, depth int, seen map[string]int) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			w.merge(v, t, path, depth)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.errorf(k, "%s: a key must be a plain value, got %s", orTop(path), describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.errorf(k, "duplicate key %q %s (first at line %d)", k.Value, in(path), first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q %s", k.Value, in(path))
			if s := suggest(k.Value, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			w.errs = append(w.errs, fmt.Sprintf("line %d: %s", k.Line, msg))
			continue
		}
		var fidx []int
		if idx != nil {
			fidx = append(slices.Clone(idx), f.Index...)
		}
		w.walk(v, f.Type, join(path, k.Value), fidx, depth+1)
	}
}

// merge checks the value of a "<<" merge key: a mapping or a list of them.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string, depth int) {
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	switch v.Kind {
	case yaml.MappingNode:
		// Merged keys may be overridden: they get their own seen set.
		w.structMapping(v, t, path, nil, depth+1, map[string]int{})
	case yaml.SequenceNode:
		for _, m := range v.Content {
			w.merge(m, t, path, depth+1)
		}
	default:
		w.errorf(v, "%s: \"<<\" wants a mapping, got %s", orTop(path), describe(v))
	}
}

// leaf decodes a value into a fresh value of type t, to report a type
// mismatch with its path.
func (w *walker) leaf(n *yaml.Node, t reflect.Type, path string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		w.errorf(n, "%s: want %s, got %s", path, want(t), describe(n))
		return
	}
	w.errorf(n, "%s: %s", path, lineRE.ReplaceAllString(err.Error(), ""))
}

var lineRE = regexp.MustCompile(`^(yaml: )?line \d+: `)

// yamlFields maps the yaml keys of struct type t to its fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(want(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "a mapping of " + strings.TrimPrefix(want(t.Elem()), "a ") + "s"
	}
	return "a mapping"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("%q", v)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func in(path string) string {
	if path == "" {
		return "at the top level"
	}
	return "in " + path
}

// suggest returns the known key closest to an unknown one, if it is close.
func suggest(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	// Short keys get a suggestion only for one edit ("fox" → "fax", but
	// not "foo" → "fax").
	limit := min(2, max(1, len([]rune(key))/3))
	best, bestD := "", limit+1
	for _, name := range names {
		if d := editDistance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions ("rign" for "ring") cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
