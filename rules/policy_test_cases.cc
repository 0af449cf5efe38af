// Rows are grouped by rule set; each group's rule set is printed above it
// with rule indexes so a row's expected rule_index can be checked by eye.
//
// C++ note: a "\x" escape swallows every following hex digit, so literals
// with non-ASCII bytes are split ("\xD0\xB0" "dmin").
#include "rules/policy_test_cases.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/limits.h"

namespace latchkey::policy::cases {
namespace {

using latchkey::v1::REASON_ALLOWED;
using latchkey::v1::REASON_INVALID_REQUEST;
using latchkey::v1::REASON_NO_RULE_MATCHED;
using latchkey::v1::REASON_PATH_REJECTED;
using latchkey::v1::REASON_RULE_DENY;
using latchkey::v1::ReasonCode;
using latchkey::v1::Rule;
using std::string_literals::operator""s;

// Expected verdicts.
struct Want {
  bool allowed;
  ReasonCode code;
  int rule_index;
};
Want Allow(int i) { return {true, REASON_ALLOWED, i}; }
Want Deny(int i) { return {false, REASON_RULE_DENY, i}; }
const Want kNoMatch = {false, REASON_NO_RULE_MATCHED, -1};
const Want kRejected = {false, REASON_PATH_REJECTED, -1};
const Want kBadMethod = {false, REASON_INVALID_REQUEST, -1};

class TableBuilder {
 public:
  explicit TableBuilder(std::vector<PolicyCase>* out) : out_(out) {}
  void Set(std::string rule_set) { rule_set_ = std::move(rule_set); }
  void Add(std::string label, std::string method, std::string path, Want want,
           std::string normalized = "") {
    PolicyCase c;
    c.label = std::move(label);
    c.method = std::move(method);
    c.raw_path = std::move(path);
    c.rule_set = rule_set_;
    c.allowed = want.allowed;
    c.code = want.code;
    c.rule_index = want.rule_index;
    c.normalized = std::move(normalized);
    out_->push_back(std::move(c));
  }

 private:
  std::vector<PolicyCase>* out_;
  std::string rule_set_;
};

std::string Repeat(absl::string_view s, int n) {
  std::string r;
  for (int i = 0; i < n; ++i) r.append(s.data(), s.size());
  return r;
}

std::vector<PolicyCase> BuildCases() {
  std::vector<PolicyCase> v;
  TableBuilder t(&v);

  // basic: 0 ALLOW GET,HEAD /v1/**       1 ALLOW POST /v1/repos/*/issues
  //        2 DENY DELETE /v1/**          3 DENY * /v1/admin/**
  t.Set("basic");
  t.Add("get_repos", "GET", "/v1/repos", Allow(0), "/v1/repos");
  t.Add("head_repos", "HEAD", "/v1/repos", Allow(0));
  t.Add("dstar_zero_segments", "GET", "/v1", Allow(0), "/v1");
  t.Add("dstar_trailing_slash", "GET", "/v1/", Allow(0), "/v1/");
  t.Add("other_prefix", "GET", "/v2/x", kNoMatch, "/v2/x");
  t.Add("prefix_not_segment", "GET", "/v1x", kNoMatch, "/v1x");
  t.Add("root", "GET", "/", kNoMatch, "/");
  t.Add("post_issues", "POST", "/v1/repos/foo/issues", Allow(1));
  t.Add("post_issues_trailing", "POST", "/v1/repos/foo/issues/", Allow(1),
        "/v1/repos/foo/issues/");
  t.Add("star_empty_segment", "POST", "/v1/repos//issues", kNoMatch,
        "/v1/repos/issues");
  t.Add("star_two_segments", "POST", "/v1/repos/a/b/issues", kNoMatch);
  t.Add("delete_denied", "DELETE", "/v1/repos/foo", Deny(2));
  t.Add("delete_v1_itself", "DELETE", "/v1", Deny(2));
  t.Add("admin_exact", "GET", "/v1/admin", Deny(3));
  t.Add("admin_trailing", "GET", "/v1/admin/", Deny(3));
  t.Add("admin_child", "GET", "/v1/admin/users", Deny(3));
  t.Add("first_deny_reported", "DELETE", "/v1/admin/x", Deny(2));
  t.Add("dotdot_escapes_prefix", "GET", "/v1/../admin", kNoMatch, "/admin");
  t.Add("enc_dotdot_lower", "GET", "/v1/%2e%2e/admin", kNoMatch, "/admin");
  t.Add("enc_dotdot_upper", "GET", "/v1/%2E%2E/admin", kNoMatch, "/admin");
  t.Add("dotdot_into_admin", "GET", "/v1/x/../admin", Deny(3), "/v1/admin");
  t.Add("enc_dotdot_into_admin", "GET", "/v1/x/%2e%2e/admin", Deny(3),
        "/v1/admin");
  t.Add("half_enc_dotdot", "GET", "/v1/x/.%2E/admin", Deny(3), "/v1/admin");
  t.Add("enc_slash_upper", "GET", "/v1/%2Fadmin", kRejected);
  t.Add("enc_slash_lower", "GET", "/v1/%2fadmin", kRejected);
  t.Add("enc_slash_joins_segments", "GET", "/v1%2Fadmin", kRejected);
  t.Add("double_slash_root", "GET", "//admin", kNoMatch, "/admin");
  t.Add("double_slash_v1_admin", "GET", "//v1/admin", Deny(3), "/v1/admin");
  t.Add("double_slash_mid_admin", "GET", "/v1//admin", Deny(3), "/v1/admin");
  t.Add("double_slash_mid", "GET", "/v1//x", Allow(0), "/v1/x");
  t.Add("many_slashes", "GET", "///v1///x///", Allow(0), "/v1/x/");
  t.Add("dot_segment", "GET", "/v1/./x", Allow(0), "/v1/x");
  t.Add("final_dot", "GET", "/v1/x/.", Allow(0), "/v1/x/");
  t.Add("dot_then_admin", "GET", "/v1/./admin", Deny(3), "/v1/admin");
  t.Add("admin_final_dot", "GET", "/v1/admin/.", Deny(3), "/v1/admin/");
  t.Add("admin_final_dotdot", "GET", "/v1/admin/..", Allow(0), "/v1/");
  t.Add("enc_unreserved_m", "GET", "/v1/ad%6Din", Deny(3), "/v1/admin");
  t.Add("enc_unreserved_a", "GET", "/v1/%61dmin", Deny(3), "/v1/admin");
  // Deny rules match every ASCII case (servers that route case-
  // insensitively would serve /v1/admin).
  t.Add("case_insensitive_deny", "GET", "/v1/ADMIN", Deny(3), "/v1/ADMIN");
  t.Add("format_suffix_deny", "GET", "/v1/admin.json", Deny(3));
  t.Add("format_suffix_case_deny", "GET", "/v1/Admin.JSON/", Deny(3));
  t.Add("method_lower", "get", "/v1/x", kBadMethod);
  t.Add("method_title", "Get", "/v1/x", kBadMethod);
  t.Add("method_mixed", "gEt", "/v1/x", kBadMethod);
  t.Add("method_empty", "", "/v1/x", kBadMethod);
  t.Add("method_space", "GET ", "/v1/x", kBadMethod);
  t.Add("method_tab", "G\tET", "/v1/x", kBadMethod);
  t.Add("method_crlf", "GET\r\nX:", "/v1/x", kBadMethod);
  t.Add("method_star", "*", "/v1/x", kBadMethod);
  t.Add("method_too_long", Repeat("A", kMaxMethodBytes + 1), "/v1/x",
        kBadMethod);
  t.Add("post_elsewhere", "POST", "/v1/x", kNoMatch);
  t.Add("patch_no_rule", "PATCH", "/v1/x", kNoMatch);
  t.Add("dotdot_to_root", "GET", "/v1/..", kNoMatch, "/");
  t.Add("dotdot_above_root", "GET", "/..", kRejected);
  t.Add("dotdot_twice_above_root", "GET", "/v1/../..", kRejected);
  t.Add("leading_dotdot", "GET", "/../v1/x", kRejected);
  t.Add("enc_dotdot_above_root", "GET", "/v1/%2e%2e/%2e%2e/x", kRejected);
  t.Add("dotdot_enc_slash", "GET", "/v1/..%2f", kRejected);
  t.Add("backslash", "GET", "/v1\\admin", kRejected);
  t.Add("backslash_dotdot", "GET", "/v1/..\\admin", kRejected);
  t.Add("enc_backslash_lower", "GET", "/v1/%5cadmin", kRejected);
  t.Add("enc_backslash_upper", "GET", "/v1/%5Cadmin", kRejected);
  t.Add("enc_nul", "GET", "/v1/%00", kRejected);
  t.Add("enc_nul_extension", "GET", "/v1/x%00.json", kRejected);
  t.Add("raw_nul", "GET", "/v1/\0x"s, kRejected);
  t.Add("enc_crlf_lower", "GET", "/v1/%0d%0aHost:evil", kRejected);
  t.Add("enc_crlf_upper", "GET", "/v1/%0D%0A", kRejected);
  t.Add("raw_crlf", "GET", "/v1/x\r\nHost: evil", kRejected);
  t.Add("raw_tab", "GET", "/v1/\tx", kRejected);
  t.Add("enc_tab", "GET", "/v1/%09x", kRejected);
  t.Add("enc_del", "GET", "/v1/%7f", kRejected);
  t.Add("raw_del", "GET", "/v1/\x7f", kRejected);
  t.Add("query_in_path", "GET", "/v1/x?y=1", kRejected);
  t.Add("fragment_in_path", "GET", "/v1/x#frag", kRejected);
  t.Add("enc_question_kept", "GET", "/v1/%3F", Allow(0), "/v1/%3F");
  t.Add("enc_question_upcased", "GET", "/v1/%3f", Allow(0), "/v1/%3F");
  t.Add("relative_path", "GET", "v1/x", kRejected);
  t.Add("empty_path", "GET", "", kRejected);
  t.Add("absolute_url", "GET", "https://evil.example/v1/x", kRejected);
  t.Add("scheme_relative", "GET", "//evil.example/v1/x", kNoMatch,
        "/evil.example/v1/x");
  t.Add("bare_percent", "GET", "/v1/%", kRejected);
  t.Add("short_escape", "GET", "/v1/%2", kRejected);
  t.Add("non_hex_escape", "GET", "/v1/%zz", kRejected);
  t.Add("percent_percent", "GET", "/v1/%%32%46", kRejected);
  t.Add("iis_u_escape", "GET", "/v1/%u002e%u002e/admin", kRejected);
  t.Add("double_encoded_slash", "GET", "/v1/%252F", kRejected);
  t.Add("double_encoded_dots", "GET", "/v1/%252e%252e/admin", kRejected);
  t.Add("overlong_slash_enc", "GET", "/v1/%C0%AFadmin", kRejected);
  t.Add("overlong_slash_raw", "GET",
        "/v1/\xC0\xAF"
        "admin",
        kRejected);
  t.Add("overlong_dots_enc", "GET", "/v1/%C0%AE%C0%AE/admin", kRejected);
  t.Add("overlong_dots_raw", "GET", "/v1/\xC0\xAE\xC0\xAE/admin", kRejected);
  t.Add("overlong_slash_3byte", "GET", "/v1/%E0%80%AF", kRejected);
  t.Add("overlong_slash_4byte", "GET", "/v1/%F0%80%80%AF", kRejected);
  t.Add("overlong_backslash", "GET", "/v1/%C1%9C", kRejected);
  t.Add("surrogate", "GET", "/v1/%ED%A0%80", kRejected);
  t.Add("above_u10ffff", "GET", "/v1/%F4%90%80%80", kRejected);
  t.Add("truncated_utf8_enc", "GET", "/v1/%C3", kRejected);
  t.Add("truncated_utf8_then_ascii", "GET", "/v1/%C3x", kRejected);
  t.Add("truncated_utf8_raw", "GET", "/v1/\xC3", kRejected);
  t.Add("invalid_byte_ff", "GET", "/v1/%FF", kRejected);
  t.Add("stray_continuation", "GET", "/v1/\x80", kRejected);
  t.Add("utf8_encoded", "GET", "/v1/caf%C3%A9", Allow(0), "/v1/caf%C3%A9");
  t.Add("utf8_raw", "GET", "/v1/caf\xC3\xA9", Allow(0), "/v1/caf%C3%A9");
  t.Add("utf8_lower_hex", "GET", "/v1/caf%c3%a9", Allow(0), "/v1/caf%C3%A9");
  t.Add("utf8_raw_and_encoded_mixed", "GET", "/v1/caf\xC3%A9", Allow(0),
        "/v1/caf%C3%A9");
  t.Add("fullwidth_solidus_in_prefix", "GET",
        "/v1\xEF\xBC\x8F"
        "admin",
        kRejected);
  t.Add("division_slash_in_prefix", "GET",
        "/v1\xE2\x88\x95"
        "admin",
        kRejected);
  t.Add("division_slash_not_admin", "GET",
        "/v1/\xE2\x88\x95"
        "admin",
        kRejected);
  t.Add("fullwidth_solidus_not_admin", "GET",
        "/v1/\xEF\xBC\x8F"
        "admin",
        kRejected);
  t.Add("cyrillic_a_not_admin", "GET",
        "/v1/\xD0\xB0"
        "dmin",
        Allow(0), "/v1/%D0%B0dmin");
  t.Add("fullwidth_dots_not_dotdot", "GET",
        "/v1/\xEF\xBC\x8E\xEF\xBC\x8E/admin", kRejected);
  t.Add("one_dot_leader_not_dot", "GET", "/v1/\xE2\x80\xA4\xE2\x80\xA4/admin",
        kRejected);
  t.Add("rtl_override_encoded", "GET", "/v1/%E2%80%AE", Allow(0),
        "/v1/%E2%80%AE");
  t.Add("raw_space_encoded", "GET", "/v1/a b", Allow(0), "/v1/a%20b");
  t.Add("raw_specials_encoded", "GET", "/v1/<\"{|}>", Allow(0),
        "/v1/%3C%22%7B%7C%7D%3E");
  t.Add("sub_delims_kept", "GET", "/v1/a:b@c!$&'()*+,=", Allow(0),
        "/v1/a:b@c!$&'()*+,=");
  t.Add("path_parameter", "GET", "/v1/admin;x=1/users", kRejected);
  t.Add("dotdot_semicolon", "GET", "/v1/..;/admin", kRejected);
  t.Add("enc_dotdot_semicolon", "GET", "/v1/x/%2e%2e;jsessionid=1/admin",
        kRejected);
  t.Add("dot_semicolon", "GET", "/v1/.;/admin", kRejected);
  t.Add("dotdot_enc_semicolon", "GET", "/v1/..%3b/admin", kRejected);
  t.Add("triple_dot_literal", "GET", "/v1/.../admin", kRejected);
  // Length limits: kMaxPathBytes applies to the raw and the normalized path.
  t.Add("len_at_limit", "GET", "/v1/" + Repeat("a", kMaxPathBytes - 4),
        Allow(0));
  t.Add("len_over_limit", "GET", "/v1/" + Repeat("a", kMaxPathBytes - 3),
        kRejected);
  t.Add("len_at_limit_trailing", "GET",
        "/v1/" + Repeat("a", kMaxPathBytes - 5) + "/", Allow(0));
  t.Add("len_many_segments", "GET",
        "/v1/" + Repeat("a/", (kMaxPathBytes - 4) / 2), Allow(0));
  t.Add("len_decodes_shorter", "GET",
        "/v1/" + Repeat("%61", (kMaxPathBytes - 4) / 3), Allow(0),
        "/v1/" + Repeat("a", (kMaxPathBytes - 4) / 3));
  t.Add("len_encodes_to_limit", "GET",
        "/v1/" + Repeat("\xC3\xA9", (kMaxPathBytes - 4) / 6), Allow(0),
        "/v1/" + Repeat("%C3%A9", (kMaxPathBytes - 4) / 6));
  t.Add("len_encodes_over_limit", "GET",
        "/v1/" + Repeat("\xC3\xA9", (kMaxPathBytes - 4) / 6 + 1), kRejected);
  t.Add("len_megabyte", "GET", "/v1/" + Repeat("a", 1 << 20), kRejected);
  t.Add("len_dotdot_walk", "GET",
        "/v1/" + Repeat("x/", 600) + Repeat("../", 600), Allow(0), "/v1/");
  t.Add("len_dotdot_walk_escape", "GET",
        "/v1/" + Repeat("x/", 600) + Repeat("../", 602), kRejected);

  // admin_literal: 0 ALLOW GET /v1/admin   1 ALLOW GET /v1/public/*
  t.Set("admin_literal");
  t.Add("literal", "GET", "/v1/admin", Allow(0));
  t.Add("literal_trailing", "GET", "/v1/admin/", Allow(0), "/v1/admin/");
  t.Add("cyrillic_a", "GET",
        "/v1/\xD0\xB0"
        "dmin",
        kNoMatch);
  t.Add("cyrillic_a_encoded", "GET", "/v1/%D0%B0dmin", kNoMatch);
  t.Add("fullwidth_a", "GET",
        "/v1/\xEF\xBD\x81"
        "dmin",
        kRejected);
  t.Add("greek_alpha", "GET",
        "/v1/\xCE\xB1"
        "dmin",
        kNoMatch);
  t.Add("literal_case", "GET", "/v1/Admin", kNoMatch);
  t.Add("literal_child", "GET", "/v1/admin/x", kNoMatch);
  t.Add("literal_longer", "GET", "/v1/admins", kNoMatch);
  t.Add("star_one", "GET", "/v1/public/x", Allow(1));
  t.Add("star_none", "GET", "/v1/public", kNoMatch);
  t.Add("star_none_trailing", "GET", "/v1/public/", kNoMatch);
  t.Add("star_two", "GET", "/v1/public/x/y", kNoMatch);
  t.Add("star_collapsed", "GET", "/v1/public//x", Allow(1), "/v1/public/x");
  t.Add("star_trailing", "GET", "/v1/public/x/", Allow(1));
  t.Add("star_enc_dot", "GET", "/v1/public/%2e", kNoMatch, "/v1/public/");
  t.Add("star_dotdot_back", "GET", "/v1/public/x/..", kNoMatch, "/v1/public/");
  t.Add("star_dotdot_up", "GET", "/v1/public/..", kNoMatch, "/v1/");
  t.Add("star_matches_encoded", "GET", "/v1/public/a%20b", Allow(1));

  // deny_admin: 0 DENY * /v1/admin   1 DENY * /v1/admin/**
  //             2 ALLOW * /v1/*      3 ALLOW * /v1/**
  t.Set("deny_admin");
  t.Add("denied", "GET", "/v1/admin", Deny(0));
  t.Add("denied_child", "GET", "/v1/admin/x", Deny(1));
  t.Add("denied_trailing_first", "POST", "/v1/admin/", Deny(0));
  t.Add("cyrillic_is_other_resource", "GET",
        "/v1/\xD0\xB0"
        "dmin",
        Allow(2), "/v1/%D0%B0dmin");
  t.Add("star_allow", "GET", "/v1/users", Allow(2));
  t.Add("dstar_allow", "GET", "/v1/users/1", Allow(3));
  t.Add("enc_slash_after_admin", "GET", "/v1/admin%2F", kRejected);
  t.Add("dotdot_back_into_admin", "PUT", "/v1/users/../admin/keys", Deny(1),
        "/v1/admin/keys");
  t.Add("dot_prefix_admin", "GET", "/v1/./admin/", Deny(0), "/v1/admin/");

  // deny_later: 0 ALLOW * /**              1 DENY DELETE /v1/repos/**
  //             2 DENY * /v1/secrets/*     3 DENY POST /v1/secrets/**
  t.Set("deny_later");
  t.Add("allow_all", "GET", "/anything/at/all", Allow(0));
  t.Add("allow_root", "GET", "/", Allow(0));
  t.Add("deny_wins_over_earlier_allow", "DELETE", "/v1/repos/x", Deny(1));
  t.Add("deny_dstar_zero", "DELETE", "/v1/repos", Deny(1));
  t.Add("other_method_allowed", "GET", "/v1/repos/x", Allow(0));
  t.Add("deny_star", "GET", "/v1/secrets/a", Deny(2));
  t.Add("two_denies_first_reported", "POST", "/v1/secrets/a", Deny(2));
  t.Add("second_deny_only", "POST", "/v1/secrets/a/b", Deny(3));
  t.Add("second_deny_zero_segments", "POST", "/v1/secrets", Deny(3));
  t.Add("star_needs_segment", "GET", "/v1/secrets", Allow(0));
  t.Add("deny_star_trailing", "GET", "/v1/secrets/a/", Deny(2));
  t.Add("deny_after_dotdot", "DELETE", "/v1/x/../repos/y", Deny(1),
        "/v1/repos/y");

  // star_vs_dstar: 0 ALLOW GET /a/*     1 ALLOW POST /a/**
  //                2 ALLOW PUT /a/*/c   3 ALLOW PATCH /a/**/c
  //                4 ALLOW DELETE /a/*/*
  t.Set("star_vs_dstar");
  t.Add("star_one", "GET", "/a/b", Allow(0));
  t.Add("star_zero", "GET", "/a", kNoMatch);
  t.Add("star_zero_trailing", "GET", "/a/", kNoMatch);
  t.Add("star_two", "GET", "/a/b/c", kNoMatch);
  t.Add("dstar_zero", "POST", "/a", Allow(1));
  t.Add("dstar_zero_trailing", "POST", "/a/", Allow(1));
  t.Add("dstar_many", "POST", "/a/b/c/d", Allow(1));
  t.Add("dstar_not_prefix_of_segment", "POST", "/ab", kNoMatch);
  t.Add("star_mid", "PUT", "/a/b/c", Allow(2));
  t.Add("star_mid_missing", "PUT", "/a/c", kNoMatch);
  t.Add("star_mid_two", "PUT", "/a/b/d/c", kNoMatch);
  t.Add("dstar_mid_zero", "PATCH", "/a/c", Allow(3));
  t.Add("dstar_mid_one", "PATCH", "/a/b/c", Allow(3));
  t.Add("dstar_mid_two", "PATCH", "/a/b/d/c", Allow(3));
  t.Add("dstar_mid_wrong_tail", "PATCH", "/a/b/c/d", kNoMatch);
  t.Add("dstar_mid_trailing", "PATCH", "/a/c/", Allow(3));
  t.Add("star_star", "DELETE", "/a/b/c", Allow(4));
  t.Add("star_star_short", "DELETE", "/a/b", kNoMatch);
  t.Add("star_star_collapsed", "DELETE", "/a//b", kNoMatch, "/a/b");

  // any_method: 0 ALLOW * /v1/**   1 DENY * /v1/private/**
  t.Set("any_method");
  t.Add("get", "GET", "/v1/x", Allow(0));
  t.Add("extension_method", "PURGE", "/v1/x", Allow(0));
  t.Add("token_with_dash", "M-SEARCH", "/v1/x", Allow(0));
  t.Add("deny_any", "DELETE", "/v1/private", Deny(1));
  t.Add("deny_any_child", "OPTIONS", "/v1/private/x", Deny(1));
  t.Add("not_segment_prefix", "GET", "/v1/privatex", Allow(0));
  t.Add("lower_extension", "purge", "/v1/x", kBadMethod);

  // multi_method: 0 ALLOW GET,HEAD,OPTIONS /v1/**
  //               1 ALLOW POST,PUT,PATCH /v1/items/*
  //               2 DENY PUT /v1/items/locked
  t.Set("multi_method");
  t.Add("head", "HEAD", "/v1/a", Allow(0));
  t.Add("options", "OPTIONS", "/v1/a", Allow(0));
  t.Add("post_item", "POST", "/v1/items/1", Allow(1));
  t.Add("patch_item", "PATCH", "/v1/items/1", Allow(1));
  t.Add("put_locked", "PUT", "/v1/items/locked", Deny(2));
  t.Add("post_locked", "POST", "/v1/items/locked", Allow(1));
  t.Add("delete_unlisted", "DELETE", "/v1/items/1", kNoMatch);
  t.Add("put_collection", "PUT", "/v1/items", kNoMatch);
  t.Add("trace_unlisted", "TRACE", "/v1/a", kNoMatch);

  // lowercase_rule: 0 ALLOW get,Head /v1/**   1 DENY delete /v1/**
  t.Set("lowercase_rule");
  t.Add("rule_upcased_get", "GET", "/v1/x", Allow(0));
  t.Add("rule_upcased_head", "HEAD", "/v1/x", Allow(0));
  t.Add("request_lower_refused", "get", "/v1/x", kBadMethod);
  t.Add("rule_upcased_delete", "DELETE", "/v1/x", Deny(1));
  t.Add("unlisted", "POST", "/v1/x", kNoMatch);

  // root: 0 ALLOW GET /   1 ALLOW GET /health
  t.Set("root");
  t.Add("root", "GET", "/", Allow(0), "/");
  t.Add("double_slash", "GET", "//", Allow(0), "/");
  t.Add("dot", "GET", "/.", Allow(0), "/");
  t.Add("dotdot_back", "GET", "/x/..", Allow(0), "/");
  t.Add("health", "GET", "/health", Allow(1));
  t.Add("health_trailing", "GET", "/health/", Allow(1));
  t.Add("healthz", "GET", "/healthz", kNoMatch);
  t.Add("health_child", "GET", "/health/x", kNoMatch);

  // trailing: 0 ALLOW GET /v1/users/   1 ALLOW GET /v1/items
  //           2 DENY GET /v1/items/secret/
  t.Set("trailing");
  t.Add("pattern_slash_path_none", "GET", "/v1/users", Allow(0), "/v1/users");
  t.Add("pattern_slash_path_slash", "GET", "/v1/users/", Allow(0),
        "/v1/users/");
  t.Add("double_trailing", "GET", "/v1/users//", Allow(0), "/v1/users/");
  t.Add("pattern_none_path_slash", "GET", "/v1/items/", Allow(1), "/v1/items/");
  t.Add("deny_slash_path_none", "GET", "/v1/items/secret", Deny(2));
  t.Add("deny_slash_path_slash", "GET", "/v1/items/secret/", Deny(2));
  t.Add("deny_final_dot", "GET", "/v1/items/secret/.", Deny(2),
        "/v1/items/secret/");

  // github: 0 ALLOW GET /repos/*/*/issues    1 ALLOW GET /repos/*/*/issues/*
  //         2 ALLOW POST /repos/*/*/issues
  //         3 ALLOW POST /repos/*/*/issues/*/comments
  //         4 DENY * /repos/*/*/hooks/**    5 DENY DELETE /**
  //         6 ALLOW GET /user               7 ALLOW GET /search/issues
  t.Set("github");
  t.Add("list_issues", "GET", "/repos/o/r/issues", Allow(0));
  t.Add("get_issue", "GET", "/repos/o/r/issues/1", Allow(1));
  t.Add("create_issue", "POST", "/repos/o/r/issues", Allow(2));
  t.Add("comment", "POST", "/repos/o/r/issues/1/comments", Allow(3));
  t.Add("hooks_denied", "GET", "/repos/o/r/hooks", Deny(4));
  t.Add("hook_post_denied", "POST", "/repos/o/r/hooks/1", Deny(4));
  t.Add("delete_denied", "DELETE", "/repos/o/r/issues/1", Deny(5));
  t.Add("delete_root_denied", "DELETE", "/", Deny(5));
  t.Add("user", "GET", "/user", Allow(6));
  t.Add("users_unlisted", "GET", "/users", kNoMatch);
  t.Add("dotdot_to_hooks", "GET", "/repos/o/r/issues/1/../../hooks", Deny(4),
        "/repos/o/r/hooks");
  t.Add("enc_dotdot_to_hooks", "GET", "/repos/o/r/issues/%2e%2e/hooks", Deny(4),
        "/repos/o/r/hooks");
  t.Add("enc_slash_repo", "GET", "/repos/o/r%2Fhooks", kRejected);
  t.Add("enc_slash_chain", "GET", "/repos/o/r/issues/1/%2e%2e%2f..%2fhooks",
        kRejected);
  t.Add("search", "GET", "/search/issues", Allow(7));
  t.Add("collapsed_owner", "GET", "/repos/o//r/issues", Allow(0),
        "/repos/o/r/issues");
  t.Add("owner_dotdot_shifts", "GET", "/repos/o/../x/y/issues", Allow(0),
        "/repos/x/y/issues");

  // encoded_literal: 0 ALLOW GET /v1/files/a%20b  1 ALLOW GET /v1/café
  //                  2 ALLOW GET /v1/%2A          3 ALLOW GET /v1/%7euser
  t.Set("encoded_literal");
  t.Add("encoded_space", "GET", "/v1/files/a%20b", Allow(0));
  t.Add("raw_space", "GET", "/v1/files/a b", Allow(0), "/v1/files/a%20b");
  t.Add("plus_is_not_space", "GET", "/v1/files/a+b", kNoMatch);
  t.Add("utf8_raw", "GET", "/v1/caf\xC3\xA9", Allow(1), "/v1/caf%C3%A9");
  t.Add("utf8_encoded", "GET", "/v1/caf%c3%a9", Allow(1));
  t.Add("no_unicode_normalization", "GET", "/v1/cafe%CC%81", kNoMatch,
        "/v1/cafe%CC%81");
  t.Add("literal_star_encoded", "GET", "/v1/%2a", Allow(2), "/v1/%2A");
  t.Add("raw_star_is_other", "GET", "/v1/*", kNoMatch, "/v1/*");
  t.Add("other", "GET", "/v1/x", kNoMatch);
  t.Add("tilde_encoded", "GET", "/v1/%7Euser", Allow(3), "/v1/~user");
  t.Add("tilde_raw", "GET", "/v1/~user", Allow(3));

  // none: no rules at all.
  t.Set("none");
  t.Add("root", "GET", "/", kNoMatch);
  t.Add("path", "GET", "/v1/x", kNoMatch);
  t.Add("bad_method_first", "get", "/v1/x", kBadMethod);
  t.Add("bad_path_first", "GET", "/v1/%2F", kRejected);

  // dstar_root: 0 ALLOW GET /**   1 DENY GET /admin/**
  t.Set("dstar_root");
  t.Add("root", "GET", "/", Allow(0));
  t.Add("admin", "GET", "/admin", Deny(1));
  t.Add("dotdot_admin", "GET", "/x/../admin", Deny(1), "/admin");
  t.Add("enc_admin_trailing", "GET", "/%61dmin/", Deny(1), "/admin/");
  t.Add("admin_space", "GET", "/admin%20", kRejected);
  t.Add("admin_trailing_dot", "GET", "/admin.", kRejected);
  t.Add("admin_upper", "GET", "/ADMIN", Deny(1));

  return v;
}

}  // namespace

const std::vector<PolicyCase>& PolicyCases() {
  static const auto* cases = new std::vector<PolicyCase>(BuildCases());
  return *cases;
}

const std::vector<std::pair<std::string, std::string>>& RuleSets() {
  static const auto* sets =
      new std::vector<std::pair<std::string, std::string>>{
          {"none", ""},
          {"basic",
           "ALLOW GET,HEAD /v1/**\n"
           "ALLOW POST /v1/repos/*/issues\n"
           "DENY DELETE /v1/**\n"
           "DENY * /v1/admin/**\n"},
          {"admin_literal",
           "ALLOW GET /v1/admin\n"
           "ALLOW GET /v1/public/*\n"},
          {"deny_admin",
           "DENY * /v1/admin\n"
           "DENY * /v1/admin/**\n"
           "ALLOW * /v1/*\n"
           "ALLOW * /v1/**\n"},
          {"deny_later",
           "ALLOW * /**\n"
           "DENY DELETE /v1/repos/**\n"
           "DENY * /v1/secrets/*\n"
           "DENY POST /v1/secrets/**\n"},
          {"star_vs_dstar",
           "ALLOW GET /a/*\n"
           "ALLOW POST /a/**\n"
           "ALLOW PUT /a/*/c\n"
           "ALLOW PATCH /a/**/c\n"
           "ALLOW DELETE /a/*/*\n"},
          {"any_method",
           "ALLOW * /v1/**\n"
           "DENY * /v1/private/**\n"},
          {"multi_method",
           "ALLOW GET,HEAD,OPTIONS /v1/**\n"
           "ALLOW POST,PUT,PATCH /v1/items/*\n"
           "DENY PUT /v1/items/locked\n"},
          {"lowercase_rule",
           "ALLOW get,Head /v1/**\n"
           "DENY delete /v1/**\n"},
          {"root",
           "ALLOW GET /\n"
           "ALLOW GET /health\n"},
          {"trailing",
           "ALLOW GET /v1/users/\n"
           "ALLOW GET /v1/items\n"
           "DENY GET /v1/items/secret/\n"},
          {"github",
           "ALLOW GET /repos/*/*/issues\n"
           "ALLOW GET /repos/*/*/issues/*\n"
           "ALLOW POST /repos/*/*/issues\n"
           "ALLOW POST /repos/*/*/issues/*/comments\n"
           "DENY * /repos/*/*/hooks/**\n"
           "DENY DELETE /**\n"
           "ALLOW GET /user\n"
           "ALLOW GET /search/issues\n"},
          {"encoded_literal",
           "ALLOW GET /v1/files/a%20b\n"
           "ALLOW GET /v1/caf\xC3\xA9\n"
           "ALLOW GET /v1/%2A\n"
           "ALLOW GET /v1/%7euser\n"},
          {"dstar_root",
           "ALLOW GET /**\n"
           "DENY GET /admin/**\n"},
      };
  return *sets;
}

google::protobuf::RepeatedPtrField<Rule> ParseRules(absl::string_view text) {
  google::protobuf::RepeatedPtrField<Rule> rules;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() != 3) {
      std::fprintf(stderr, "bad rule line: %s\n", std::string(line).c_str());
      std::abort();
    }
    Rule* r = rules.Add();
    int effect = 0;
    if (f[0] == "ALLOW") {
      r->set_effect(Rule::ALLOW);
    } else if (f[0] == "DENY") {
      r->set_effect(Rule::DENY);
    } else if (f[0] == "UNSPECIFIED") {
      r->set_effect(Rule::EFFECT_UNSPECIFIED);
    } else if (absl::SimpleAtoi(f[0], &effect)) {
      r->set_effect(static_cast<Rule::Effect>(effect));
    } else {
      std::fprintf(stderr, "bad effect: %s\n", std::string(line).c_str());
      std::abort();
    }
    if (f[1] != "-") {
      for (absl::string_view m : absl::StrSplit(f[1], ',')) {
        r->add_methods(std::string(m));
      }
    }
    r->set_path(std::string(f[2]));
  }
  return rules;
}

google::protobuf::RepeatedPtrField<Rule> RuleSetByName(absl::string_view name) {
  for (const auto& [set_name, text] : RuleSets()) {
    if (set_name == name) return ParseRules(text);
  }
  std::fprintf(stderr, "unknown rule set: %s\n", std::string(name).c_str());
  std::abort();
}

}  // namespace latchkey::policy::cases
