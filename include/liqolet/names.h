/* liqolet: syntax of Kubernetes names and IP literals (pure; src/kube/names.c). One place
 * for the checks that the configuration, the forges and the management endpoint share.
 * Each takes a length-delimited string (no NUL needed) and returns true when valid. */
#ifndef LIQOLET_NAMES_H
#define LIQOLET_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest textual IPv6 address (with an embedded IPv4 address). */
#define LQ_NAMES_IP_MAX 45

/* RFC 1123 label: 1..63 of [a-z0-9-], alphanumeric at both ends (namespace names). */
bool lq_names_dns_label(const char *s, size_t n);
/* RFC 1123 subdomain: dot-separated labels, 1..253 in all (most object names). */
bool lq_names_dns_subdomain(const char *s, size_t n);
/* Label value / qualified-name part: 1..63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
bool lq_names_label_name(const char *s, size_t n);
/* Label key: [prefix/]name, the prefix a DNS subdomain. */
bool lq_names_qualified_name(const char *s, size_t n);
/* Dotted-quad IPv4 without leading zeros; RFC 4291 IPv6 text (no zone); either. */
bool lq_names_ipv4(const char *s, size_t n);
bool lq_names_ipv6(const char *s, size_t n);
bool lq_names_ip_literal(const char *s, size_t n);
/* The same, also giving the address bytes (network order). */
bool lq_names_ipv4_parse(const char *s, size_t n, uint8_t out[4]);
bool lq_names_ipv6_parse(const char *s, size_t n, uint8_t out[16]);
/* 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
bool lq_names_is_loopback(const char *s, size_t n);

#endif
