// Package ari is a small, typed client for the Asterisk REST Interface
// (ARI 2.0.0, Asterisk 22), written from Asterisk's own API description
// (../shared/asterisk/api-docs) and checked against captures of a real
// Asterisk 22.10.1. It covers what the hotline Stasis application needs:
// channels, bridges, playbacks, recordings, endpoints and the events
// WebSocket.
//
// Asterisk does several things its documentation does not say, and the
// client handles them:
//   - timestamps are written 2026-11-27T02:33:50.213+0000 (no colon in the
//     offset), which time.RFC3339 does not parse (see Time);
//   - error bodies are {"message": "..."} except a few that are
//     {"error": "..."} (see Error);
//   - some events arrive twice, byte for byte (see Stream);
//   - repeated media= query parameters are not a playlist: only the last
//     one plays, so a playlist is one comma-separated value (see Play).
//
// The hotline application itself is in the subpackage hotline; the ARI
// simulator the tests run against is in aritest.
package ari
