package serve

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// style is the pages' only styling, inline: no external assets. The CSP
// allows exactly this block by its hash, and nothing else at all: no
// script, no images, no frames, forms only to this origin.
const style = `body{font:1.1rem/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#fafafa}
main{max-width:32rem;margin:0 auto;background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:1.5rem 2rem}
h1{font-size:1.5rem;margin-top:0}
.address{font-weight:bold;overflow-wrap:anywhere}
button{font:inherit;padding:.6rem 1.4rem;border:2px solid #1a4f8a;border-radius:.4rem;background:#1a4f8a;color:#fff;cursor:pointer}
button:focus-visible{outline:3px solid #f0a500;outline-offset:2px}`

var csp = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(style))
	return base64.StdEncoding.EncodeToString(sum[:])
}

const layout = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>{{.Style}}</style>
</head>
<body>
<main>
{{template "content" .}}
</main>
</body>
</html>
`

// askPage asks before unsubscribing: a GET never unsubscribes, because
// mail security scanners fetch every link in a message.
var askPage = template.Must(template.Must(template.New("ask").Parse(layout)).Parse(`{{define "content"}}<h1 id="title">Unsubscribe</h1>
<form method="post" aria-labelledby="title">
<p id="what">Stop sending email to <span class="address">{{.Address}}</span>?</p>
<input type="hidden" name="confirm" value="1">
<button type="submit" aria-describedby="what">Unsubscribe</button>
</form>{{end}}`))

// donePage confirms an unsubscribe (or says it was done before).
var donePage = template.Must(template.Must(template.New("done").Parse(layout)).Parse(`{{define "content"}}<h1>You are unsubscribed</h1>
<p role="status"><span class="address">{{.Address}}</span> will get no more email from this list.</p>{{end}}`))

// errorPage is every refusal, in words for the person who clicked.
var errorPage = template.Must(template.Must(template.New("error").Parse(layout)).Parse(`{{define "content"}}<h1>{{.Title}}</h1>
<p>{{.Text}}</p>{{end}}`))

type pageData struct {
	Title, Address, Text string
	Style                template.CSS
}

// page writes one of the pages with status. For askPage and donePage arg
// is the address; for errorPage it is the title and text the message.
func (s *Server) page(w http.ResponseWriter, status int, t *template.Template, arg, text string) {
	d := pageData{Style: template.CSS(style)}
	switch t {
	case askPage:
		d.Title, d.Address = "Unsubscribe", arg
	case donePage:
		d.Title, d.Address = "Unsubscribed", arg
	default:
		d.Title, d.Text = arg, text
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	t.Execute(w, d)
}
