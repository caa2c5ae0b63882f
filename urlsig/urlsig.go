// Package urlsig signs and checks thumbnail URLs, so that only sizes and
// files the owner chose can be asked for.
//
// The signature is HMAC-SHA256 with the signing key over
// size + "\n" + filename, or size + "\n" + filename + "\n" + exp when the
// URL carries an expiry (Unix seconds), encoded as base64url without
// padding, and sent as the sig parameter.
package urlsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Errors Check reports.
var (
	ErrMissing = errors.New("urlsig: missing signature")
	ErrInvalid = errors.New("urlsig: invalid signature")
	ErrExpired = errors.New("urlsig: signature expired")
)

func mac(key []byte, filename string, size int, exp string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strconv.Itoa(size) + "\n" + filename))
	if exp != "" {
		m.Write([]byte("\n" + exp))
	}
	return m.Sum(nil)
}

// Sign returns the signature of a request; exp is the expiry in Unix
// seconds, or "" for none.
func Sign(key []byte, filename string, size int, exp string) string {
	return base64.RawURLEncoding.EncodeToString(mac(key, filename, size, exp))
}

// Check verifies sig (and exp, when given) for the request, in constant
// time.
func Check(key []byte, filename string, size int, sig, exp string, now time.Time) error {
	if sig == "" {
		return ErrMissing
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, filename, size, exp)) {
		return ErrInvalid
	}
	if exp != "" {
		t, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return ErrInvalid
		}
		if now.Unix() > t {
			return ErrExpired
		}
	}
	return nil
}

// Query returns the signed query string of a request, valid for ttl (zero:
// no expiry).
func Query(key []byte, filename string, size int, ttl time.Duration, now time.Time) string {
	q := url.Values{"filename": {filename}, "size": {strconv.Itoa(size)}}
	exp := ""
	if ttl > 0 {
		exp = strconv.FormatInt(now.Add(ttl).Unix(), 10)
		q.Set("exp", exp)
	}
	q.Set("sig", Sign(key, filename, size, exp))
	return q.Encode()
}

// String describes a check failure for clients.
func String(err error) string {
	switch {
	case errors.Is(err, ErrMissing):
		return "signature required: add sig (see iron_thumbs sign)"
	case errors.Is(err, ErrExpired):
		return "signature expired"
	}
	return "signature does not match"
}
