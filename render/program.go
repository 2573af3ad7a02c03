package render

import (
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	"text/template/parse"
	"time"
)

// A program is a template's parse tree compiled for the shape nearly every
// campaign template has: literal text and {{.column}} actions (also as
// {{index . "column"}}, through default, upper, lower, title, trim), the
// {{unsubscribe_url}} call, {{now | date "layout"}}, {{if .column}} ... {{else}} ... {{end}}, and
// after html/template's escaping the escapers it chose for each action's
// context. Executing it is a walk over a slice with plain map lookups,
// where text/template resolves every {{.column}} by reflection and prints
// it through fmt: about half of a message's rendering cost.
//
// compile returns nil for anything else (other functions, range, with,
// variables, {{template}}, an escaper not listed in filters), and Render
// then executes the template with the template package as before. The
// output is the same bytes either way (TestProgramMatchesTemplate and
// FuzzProgramHTML hold the template packages as the oracle); so are the
// errors Render reports.
type program struct{ ops []op }

type opKind uint8

const (
	opText  opKind = iota
	opField        // {{.name}}
	opUnsub        // {{(unsubscribe_url $)}}
	opNow          // {{now | date "layout"}}: the clock, formatted with text
	opIf           // {{if .name}}: on "" go to jump (the else branch or the end)
	opJump         // the end of a then branch with an else: go to jump
)

type op struct {
	kind  opKind
	text  string                // opText
	field string                // opField, opIf
	fns   []func(string) string // filters, applied in order

	optional bool // {{index . "name"}}: a missing column is ""
	slot     int  // opField, opIf: where a render keeps the column's value
	jump     int  // opIf, opJump: the index of the next op
}

// compile compiles tr, or returns nil when it uses more than a program can do.
func compile(tr *parse.Tree) *program {
	if tr == nil || tr.Root == nil {
		return nil
	}
	return compileList(tr.Root)
}

// literal returns the text of a program that is only text.
func (p *program) literal() (string, bool) {
	if p == nil {
		return "", false
	}
	var b strings.Builder
	for _, o := range p.ops {
		if o.kind != opText {
			return "", false
		}
		b.WriteString(o.text)
	}
	return b.String(), true
}

// compileHTML compiles an html template as html/template escapes it. It
// escapes on the first execution, so compileHTML executes it once, with
// no columns, into nothing; a template that cannot be escaped keeps
// failing each row as it did, with html/template's error.
func compileHTML(ht *htmltemplate.Template, limit int64) *program {
	err := ht.Execute(capWriter{io.Discard, &budget{left: limit, limit: limit}}, map[string]string{})
	if ee := (*htmltemplate.Error)(nil); errors.As(err, &ee) {
		return nil
	}
	return compile(ht.Tree)
}

func compileList(l *parse.ListNode) *program {
	p := &program{}
	if !p.appendList(l) {
		return nil
	}
	return p
}

// appendList appends the ops of l: a branch is a run of ops between an
// opIf and its jump target, so a program runs as a loop, not a recursion.
func (p *program) appendList(l *parse.ListNode) bool {
	if l == nil {
		return true
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			p.ops = append(p.ops, op{kind: opText, text: string(n.Text)})
		case *parse.ActionNode:
			o, ok := compilePipe(n.Pipe)
			if !ok {
				return false
			}
			p.ops = append(p.ops, o)
		case *parse.IfNode:
			o, ok := compilePipe(n.Pipe)
			if !ok || o.kind != opField || len(o.fns) > 0 {
				return false
			}
			o.kind = opIf
			at := len(p.ops)
			p.ops = append(p.ops, o)
			if !p.appendList(n.List) {
				return false
			}
			if n.ElseList != nil {
				end := len(p.ops)
				p.ops = append(p.ops, op{kind: opJump})
				p.ops[at].jump = len(p.ops)
				if !p.appendList(n.ElseList) {
					return false
				}
				p.ops[end].jump = len(p.ops)
			} else {
				p.ops[at].jump = len(p.ops)
			}
		default:
			return false
		}
	}
	return true
}

// compilePipe accepts a source (a column, {{index . "column"}}, the
// unsubscribe URL) followed by filters: the string functions of funcs.go
// that take the piped value alone, default with a literal, and
// html/template's escapers.
func compilePipe(pipe *parse.PipeNode) (op, bool) {
	if pipe == nil || pipe.IsAssign || len(pipe.Decl) > 0 || len(pipe.Cmds) == 0 {
		return op{}, false
	}
	cmds := pipe.Cmds
	o, ok := compileSource(cmds[0].Args)
	if layout, isNow := nowDate(cmds); isNow {
		o, ok = op{kind: opNow, text: layout}, true
		if len(cmds[0].Args) == 1 {
			cmds = cmds[1:] // now | date "layout": two commands
		}
	}
	if !ok {
		return op{}, false
	}
	for _, c := range cmds[1:] {
		f, ok := compileFilter(c.Args)
		if !ok {
			return op{}, false
		}
		o.fns = append(o.fns, f)
	}
	return o, true
}

func compileSource(args []parse.Node) (op, bool) {
	switch len(args) {
	case 1:
		switch a := args[0].(type) {
		case *parse.FieldNode:
			if len(a.Ident) == 1 {
				return op{kind: opField, field: a.Ident[0]}, true
			}
		case *parse.PipeNode: // (unsubscribe_url $), as rewriteUnsubscribe writes it
			if len(a.Decl) > 0 || len(a.Cmds) != 1 || len(a.Cmds[0].Args) != 2 {
				return op{}, false
			}
			id, ok1 := a.Cmds[0].Args[0].(*parse.IdentifierNode)
			v, ok2 := a.Cmds[0].Args[1].(*parse.VariableNode)
			if ok1 && ok2 && id.Ident == "unsubscribe_url" && len(v.Ident) == 1 && v.Ident[0] == "$" {
				return op{kind: opUnsub}, true
			}
		}
	case 3:
		id, ok := args[0].(*parse.IdentifierNode)
		if !ok {
			return op{}, false
		}
		switch id.Ident {
		case "index": // index . "column": "" for a missing column, never an error
			_, dot := args[1].(*parse.DotNode)
			key, lit := args[2].(*parse.StringNode)
			if dot && lit {
				return op{kind: opField, field: key.Text, optional: true}, true
			}
		case "default": // default "x" .column
			def, lit := args[1].(*parse.StringNode)
			o, ok := compileSource(args[2:])
			if lit && ok && o.kind == opField {
				o.fns = append(o.fns, defaultFunc(def.Text))
				return o, true
			}
		}
	}
	return op{}, false
}

// nowDate recognises the clock formatted with a literal layout, as
// {{now | date "layout"}} or {{date "layout" now}}.
func nowDate(cmds []*parse.CommandNode) (string, bool) {
	isIdent := func(n parse.Node, name string) bool {
		id, ok := n.(*parse.IdentifierNode)
		return ok && id.Ident == name
	}
	a := cmds[0].Args
	if len(a) == 3 && isIdent(a[0], "date") && isIdent(a[2], "now") {
		if l, ok := a[1].(*parse.StringNode); ok {
			return l.Text, true
		}
	}
	if len(a) == 1 && isIdent(a[0], "now") && len(cmds) > 1 {
		if b := cmds[1].Args; len(b) == 2 && isIdent(b[0], "date") {
			if l, ok := b[1].(*parse.StringNode); ok {
				return l.Text, true
			}
		}
	}
	return "", false
}

func compileFilter(args []parse.Node) (func(string) string, bool) {
	id, ok := args[0].(*parse.IdentifierNode)
	if !ok {
		return nil, false
	}
	switch len(args) {
	case 1:
		f, ok := filters[id.Ident]
		return f, ok
	case 2:
		def, lit := args[1].(*parse.StringNode)
		if id.Ident == "default" && lit {
			return defaultFunc(def.Text), true
		}
	}
	return nil, false
}

// defaultFunc is funcs.go's default for a string value.
func defaultFunc(def string) func(string) string {
	return func(v string) string {
		if strings.TrimSpace(v) == "" {
			return def
		}
		return v
	}
}

// exec appends the program's output for data to dst. Every piece of output
// is charged to the budget as capWriter charges one Write, so a template
// stops at the same point either way.
//
// slots (see slots) are passed apart from env so that they can stay on
// the caller's stack: escape analysis does not tell a struct's fields
// apart, and env's strings flow into the filters.
func (p *program) exec(dst []byte, env *progEnv, slots []slot, b *budget) ([]byte, error) {
	for i := 0; i < len(p.ops); i++ {
		o := &p.ops[i]
		var s string
		switch o.kind {
		case opText:
			s = o.text
		case opJump:
			i = o.jump - 1
			continue
		case opField, opIf:
			sl := &slots[o.slot]
			if sl.state == 0 {
				var ok bool
				if sl.v, ok = env.fields[o.field]; ok {
					sl.state = slotSet
				} else {
					sl.state = slotMissing
				}
			}
			v := sl.v
			if sl.state == slotMissing && !o.optional {
				return dst, fmt.Errorf("the list has no column named %s", o.field)
			}
			if o.kind == opIf {
				if v == "" {
					i = o.jump - 1
				}
				continue
			}
			s = v
		case opUnsub:
			if !env.hasUnsub {
				return dst, errors.New("unsubscribe_url: no unsubscribe URL is configured")
			}
			s = env.unsub
		case opNow:
			s = env.now().Format(o.text)
		}
		for _, f := range o.fns {
			s = f(s)
		}
		if len(s) == 0 {
			continue // text/template writes nothing for an empty string
		}
		if err := b.take(len(s)); err != nil {
			return dst, err
		}
		dst = append(dst, s...)
	}
	return dst, nil
}

// progEnv is what a program reads: the row's columns and the recipient's
// unsubscribe URL. A column is looked up in the row once per message, on
// its first use, and kept in its slot for the next ones (a template names
// the same few columns many times).
type progEnv struct {
	fields   map[string]string
	unsub    string
	hasUnsub bool
	now      func() time.Time
}

type slot struct {
	v     string
	state uint8 // 0: not looked up; slotSet, slotMissing
}

const (
	slotSet = 1 + iota
	slotMissing
)

// slots returns n slots (assignSlots), in small when they fit.
func slots(small []slot, n int) []slot {
	if n <= len(small) {
		return small[:n]
	}
	return make([]slot, n)
}

// assignSlots gives each column the programs name a slot, shared by all
// of them, and returns the number of slots.
func assignSlots(ps ...*program) int {
	ids := map[string]int{}
	for _, p := range ps {
		if p == nil {
			continue
		}
		for i := range p.ops {
			o := &p.ops[i]
			if o.kind == opField || o.kind == opIf {
				id, ok := ids[o.field]
				if !ok {
					id = len(ids)
					ids[o.field] = id
				}
				o.slot = id
			}
		}
	}
	return len(ids)
}

// budget is the output a message has left, shared by all its templates.
type budget struct{ left, limit int64 }

func (b *budget) take(n int) error {
	if int64(n) > b.left {
		b.left = -1
		return &TooLargeError{b.limit}
	}
	b.left -= int64(n)
	return nil
}

// filters are the functions a program applies itself: funcs.go's that
// take one string, and html/template's escapers for the contexts a
// campaign's HTML puts columns in (element text, a quoted attribute, a URL
// attribute, a query parameter), which are html/template's code (Go's
// html/template: html.go and url.go) for plain string arguments, the only
// kind a column is.
var filters = map[string]func(string) string{
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": title,
	"trim":  strings.TrimSpace,

	"_html_template_htmlescaper":   htmlEscape,
	"_html_template_attrescaper":   htmlEscape,
	"_html_template_rcdataescaper": htmlEscape,
	"_html_template_urlfilter":     urlFilter,
	"_html_template_urlnormalizer": func(s string) string { return urlProcess(s, true) },
	"_html_template_urlescaper":    func(s string) string { return urlProcess(s, false) },
}

// htmlEscape is html/template's htmlReplacer with htmlReplacementTable for
// a plain string: only ASCII bytes are replaced, so it works on bytes.
func htmlEscape(s string) string {
	var b strings.Builder
	written := 0
	for i := 0; i < len(s); i++ {
		var repl string
		switch s[i] {
		case 0:
			repl = "\uFFFD"
		case '"':
			repl = "&#34;"
		case '&':
			repl = "&amp;"
		case '\'':
			repl = "&#39;"
		case '+':
			repl = "&#43;"
		case '<':
			repl = "&lt;"
		case '>':
			repl = "&gt;"
		default:
			continue
		}
		if written == 0 {
			b.Grow(len(s) + 8)
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		written = i + 1
	}
	if written == 0 {
		return s
	}
	b.WriteString(s[written:])
	return b.String()
}

// urlFilter replaces a URL with a scheme other than http, https or mailto
// by "#ZgotmplZ", as html/template does.
func urlFilter(s string) string {
	if protocol, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(protocol, "/") {
		if !strings.EqualFold(protocol, "http") && !strings.EqualFold(protocol, "https") && !strings.EqualFold(protocol, "mailto") {
			return "#ZgotmplZ"
		}
	}
	return s
}

// urlProcess percent-encodes s for a URL (norm: keeping reserved
// characters and valid escapes, for a whole URL; else for a part of one).
func urlProcess(s string, norm bool) string {
	const hex = "0123456789abcdef"
	var b []byte
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']':
			if norm {
				continue
			}
		case '-', '.', '_', '~':
			continue
		case '%':
			if norm && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				continue
			}
		default:
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				continue
			}
		}
		if b == nil {
			b = make([]byte, 0, len(s)+16)
		}
		b = append(b, s[written:i]...)
		b = append(b, '%', hex[c>>4], hex[c&15])
		written = i + 1
	}
	if written == 0 {
		return s
	}
	return string(append(b, s[written:]...))
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
