module github.com/mailer-dev/mailer

go 1.26.8

require (
	github.com/emersion/go-message v0.18.2
	github.com/emersion/go-sasl v0.0.0-20241020182733-b788ff22d5a6
	github.com/emersion/go-smtp v0.25.1
	golang.org/x/net v0.62.0
	golang.org/x/time v0.16.0
)

require golang.org/x/text v0.43.0 // indirect
