// Package mail delivers the mail the account flows write to the outbox:
// Relay claims due mail through an Outbox (account.Outbox is one), hands
// it to a Sender (the SMTP sender over go-mail), and records success or a
// retry; Templates renders each kind of mail in German and English from
// embedded templates that a tenant may override from a directory.
package mail
