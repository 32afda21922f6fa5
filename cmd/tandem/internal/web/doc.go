// Package web is the director's read-only status page, modelled on
// HAProxy's stats page: one dense, server-rendered HTML page at "/" and
// the status document (package status) as JSON at "/status.json". The
// caller mounts Handler beside its /metrics on the same listener.
//
// The page is html/template with embedded CSS and no JavaScript; a
// Content-Security-Policy forbids scripts altogether. It reloads itself
// with <meta http-equiv="refresh">, every 5 s unless ?refresh=N (0..3600
// seconds, 0 = off) says otherwise. Ages ("3m12s") count from the
// document's taken time, so a page is a pure function of its document.
//
// # Finding values: the data-field contract
//
// Tests and scripts find every value without reading the layout:
//
//   - A scope is an element carrying one of data-vrrp (an instance's
//     name), data-vs (a virtual server's name), data-vs plus data-rs (a
//     real server: its name, or its address when the name is empty, as
//     for a removed one), data-foreign (a foreign service's "service"),
//     or data-foreign plus data-dest (one of its destinations' address).
//     Elements outside every scope belong to the document itself.
//   - An element with data-field="PATH" belongs to its nearest scope;
//     PATH is the JSON key of that scope's object in the status document,
//     dotted for nested objects ("reloads.ok", "override.mode",
//     "stats.cps").
//   - Its data-value is the JSON value: a string verbatim, anything else
//     as encoding/json writes it (numbers, true/false, objects and arrays
//     compact), "" for an absent time or object. A key the document
//     omits (omitempty) shows its empty value ("", 0, false, null, [] or
//     {}). The element's text is for people ("-" for weight -1, ages,
//     short hashes, byte sizes).
//
// Not every key is on the page (a virtual server's protocol, address and
// fwmark are in its service; packet and byte totals only in titles), but
// every data-field is a key. The counter columns (stats.conns, stats.cps,
// stats.in_bps, stats.out_bps) appear only when the document has stats.
package web
