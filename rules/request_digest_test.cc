#include "rules/request_digest.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace latchkey {
namespace {

struct Shape {
  std::string method = "POST";
  std::string path = "/v1/items";
  std::vector<std::pair<std::string, std::string>> query = {{"amount", "5"}};
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"}};
  std::optional<std::string> body = std::string("{\"amount\":5}");
};

std::string Digest(const Shape& shape) {
  google::protobuf::RepeatedPtrField<v1::QueryParam> query;
  for (const auto& [name, value] : shape.query) {
    v1::QueryParam* param = query.Add();
    param->set_name(name);
    param->set_value(value);
  }
  google::protobuf::RepeatedPtrField<v1::Header> headers;
  for (const auto& [name, value] : shape.headers) {
    v1::Header* header = headers.Add();
    header->set_name(name);
    header->set_value(value);
  }
  std::optional<absl::string_view> body;
  if (shape.body.has_value()) body = *shape.body;
  return DigestRequest(shape.method, shape.path, query, headers, body)
      .request_sha256;
}

TEST(RequestDigestTest, EveryPartChangesTheDigest) {
  std::set<std::string> seen;
  Shape base;
  seen.insert(Digest(base));
  Shape s = base;
  s.method = "PUT";
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.path = "/v1/items/";
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.query = {{"amount", "500000"}};
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.query = {{"amount5", ""}};  // same bytes run together, other split
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.headers.push_back({"X-Extra", "1"});
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.body = "{\"amount\":500000}";
  EXPECT_TRUE(seen.insert(Digest(s)).second);
  s = base;
  s.body.reset();
  EXPECT_TRUE(seen.insert(Digest(s)).second);
}

TEST(RequestDigestTest, HeaderNameCaseIsTheSameRequest) {
  Shape a;
  Shape b;
  b.headers = {{"content-type", "application/json"}};
  EXPECT_EQ(Digest(a), Digest(b));
}

}  // namespace
}  // namespace latchkey
