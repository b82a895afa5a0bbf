// S3's XML answers (errors, listings, multipart uploads) parsed with expat:
// a maintained, fuzzed parser instead of a hand-written one. The tree it
// builds is the small s3_internal::XmlElement the store reads.
#include <expat.h>
#include <fmt/format.h>

#include <climits>
#include <memory>
#include <type_traits>
#include <new>
#include <vector>

#include "store/s3_store.h"

namespace tradelake::s3_internal {

const XmlElement* XmlElement::Child(std::string_view child) const {
  for (const XmlElement& c : children) {
    if (c.name == child) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view child) const {
  const XmlElement* c = Child(child);
  return c == nullptr ? "" : c->text;
}

namespace {

// Levels below the root an answer may nest; S3's documents use three.
constexpr size_t kMaxDepth = 64;

struct ParserDeleter {
  void operator()(XML_Parser p) const { XML_ParserFree(p); }
};
using ParserPtr = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserDeleter>;

// Handler state. Pointers in `open` stay valid: only the innermost open
// element gains children, and none of its earlier children is open.
struct Builder {
  XML_Parser parser = nullptr;
  XmlElement root;
  bool have_root = false;
  std::vector<XmlElement*> open;
  std::string error;  // set when a handler stops the parse

  void Stop(std::string why) {
    if (error.empty()) error = std::move(why);
    XML_StopParser(parser, XML_FALSE);
  }
};

std::string LocalName(const XML_Char* qname) {
  const std::string_view q(qname);
  const size_t colon = q.rfind(':');
  return std::string(colon == std::string_view::npos ? q : q.substr(colon + 1));
}

// Handlers run inside expat's C frames: no exception may leave them.
void XMLCALL OnStart(void* user, const XML_Char* name, const XML_Char** /*attributes*/) {
  auto* b = static_cast<Builder*>(user);
  try {
    if (b->open.empty()) {
      b->root.name = LocalName(name);
      b->have_root = true;
      b->open.push_back(&b->root);
      return;
    }
    if (b->open.size() > kMaxDepth) return b->Stop("elements nested too deeply");
    XmlElement& child = b->open.back()->children.emplace_back();
    child.name = LocalName(name);
    b->open.push_back(&child);
  } catch (const std::bad_alloc&) {
    b->Stop("out of memory");
  }
}

void XMLCALL OnEnd(void* user, const XML_Char* /*name*/) {
  auto* b = static_cast<Builder*>(user);
  if (!b->open.empty()) b->open.pop_back();
}

void XMLCALL OnText(void* user, const XML_Char* s, int len) {
  auto* b = static_cast<Builder*>(user);
  if (b->open.empty() || len <= 0) return;
  try {
    b->open.back()->text.append(s, static_cast<size_t>(len));
  } catch (const std::bad_alloc&) {
    b->Stop("out of memory");
  }
}

// Entity declarations are how "billion laughs" documents grow; S3 never
// sends a DTD, so any internal subset, entity declaration or reference to an
// entity expat cannot expand ends the parse.
void XMLCALL OnDoctype(void* user, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                       const XML_Char* /*pubid*/, int has_internal_subset) {
  if (has_internal_subset) static_cast<Builder*>(user)->Stop("DOCTYPE with an internal subset");
}

void XMLCALL OnEntityDecl(void* user, const XML_Char* /*name*/, int /*parameter*/,
                          const XML_Char* /*value*/, int /*length*/, const XML_Char* /*base*/,
                          const XML_Char* /*sysid*/, const XML_Char* /*pubid*/,
                          const XML_Char* /*notation*/) {
  static_cast<Builder*>(user)->Stop("entity declaration");
}

void XMLCALL OnSkippedEntity(void* user, const XML_Char* name, int /*parameter*/) {
  auto* b = static_cast<Builder*>(user);
  b->Stop(fmt::format("unknown entity &{};", name));
}

}  // namespace

Result<XmlElement> ParseXml(std::string_view text) {
  if (text.size() > static_cast<size_t>(INT_MAX)) {
    return InvalidArgument(fmt::format("XML document of {} bytes is too large", text.size()));
  }
  // S3 keeps a slow CompleteMultipartUpload or CopyObject alive by sending
  // whitespace after "200 OK", before the document and its XML declaration;
  // XML allows nothing before the declaration, so the padding goes first.
  const size_t start = text.find_first_not_of(" \t\r\n");
  text.remove_prefix(start == std::string_view::npos ? text.size() : start);
  ParserPtr parser(XML_ParserCreate(nullptr));  // UTF-8 unless the prolog says otherwise
  if (parser == nullptr) return Internal("cannot create an XML parser (out of memory)");
  Builder b;
  b.parser = parser.get();
  XML_SetUserData(parser.get(), &b);
  XML_SetElementHandler(parser.get(), OnStart, OnEnd);
  XML_SetCharacterDataHandler(parser.get(), OnText);
  XML_SetStartDoctypeDeclHandler(parser.get(), OnDoctype);
  XML_SetEntityDeclHandler(parser.get(), OnEntityDecl);
  XML_SetSkippedEntityHandler(parser.get(), OnSkippedEntity);
  XML_SetParamEntityParsing(parser.get(), XML_PARAM_ENTITY_PARSING_NEVER);
  const XML_Status st =
      XML_Parse(parser.get(), text.data(), static_cast<int>(text.size()), /*isFinal=*/XML_TRUE);
  if (st != XML_STATUS_OK || !b.error.empty() || !b.have_root) {
    const std::string why = !b.error.empty() ? b.error
                            : st != XML_STATUS_OK
                                ? std::string(XML_ErrorString(XML_GetErrorCode(parser.get())))
                                : std::string("no root element");
    return InvalidArgument(fmt::format("malformed XML at line {} column {}: {}",
                                       XML_GetCurrentLineNumber(parser.get()),
                                       XML_GetCurrentColumnNumber(parser.get()), why));
  }
  return std::move(b.root);
}

}  // namespace tradelake::s3_internal
