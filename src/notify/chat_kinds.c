#include "closeloop/notify/chat_kinds.h"

#include "closeloop/notify/chat_render.h"
#include "closeloop/util/buf.h"

#include <stdlib.h>
#include <string.h>

/* Every kind closeloop can post: one line per kind. */
static const struct chat_kind *const chat_kinds[] = {
    &chat_kind_test,
    &chat_kind_digest,
};

const struct chat_kind *chat_kind_find(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < CL_ARRAY_LEN(chat_kinds); i++) {
        if (strcmp(chat_kinds[i]->name, name) == 0)
            return chat_kinds[i];
    }
    return NULL;
}

/* The test message in the channel's format; text is the escaped intro and note. */
static json_t *test_message(enum chat_style st, const char *intro, const char *text)
{
    static const char title[] = "closeloop test message";
    json_t *msg;
    json_t *card;

    if (st == CHAT_STYLE_SLACK)
        return json_pack("{s:s, s:[o]}", "text", intro, "blocks", chat_slack_section(text));
    if (st == CHAT_STYLE_MESSAGECARD) {
        msg = chat_teams_card(title, title);
        json_array_append_new(json_object_get(msg, "sections"), json_pack("{s:s}", "text", text));
        return msg;
    }
    card = chat_adaptive_card();
    json_array_append_new(json_object_get(card, "body"), chat_adaptive_heading(title));
    json_array_append_new(json_object_get(card, "body"), chat_adaptive_text(text));
    return chat_adaptive_message(card);
}

static int test_render(const json_t *payload, const char *flavour, char **body_json,
                       struct cl_err *err)
{
    static const char intro[] = "This is a test message from closeloop: the webhook works.";
    const json_t *note = json_object_get(payload, "note");
    enum chat_style st;
    struct buf b;

    if (chat_style_parse(&st, flavour) != CL_OK)
        return cl_fail(err, CL_EINVAL, "test message: no chat flavour \"%s\"", flavour);
    if (!json_is_object(payload))
        return cl_fail(err, CL_EINVAL, "test message: payload is not an object");
    if (note != NULL && !json_is_string(note))
        return cl_fail(err, CL_EINVAL, "test message: note is not a string");
    buf_init(&b);
    chat_text(&b, st, intro);
    if (note != NULL) {
        /* a paragraph of its own: Teams' markdown joins single line breaks */
        buf_puts(&b, st == CHAT_STYLE_SLACK ? "\n" : "\n\n");
        chat_text(&b, st, json_string_value(note));
    }
    buf_append(&b, "", 1);
    *body_json = chat_dump(test_message(st, intro, b.data));
    buf_dispose(&b);
    if (*body_json != NULL && strlen(*body_json) > CHAT_MAX_BODY) {
        free(*body_json);
        *body_json = NULL;
        return cl_fail(err, CL_EINVAL, "test message: over %d bytes", CHAT_MAX_BODY);
    }
    return *body_json != NULL ? CL_OK : cl_fail(err, CL_EINVAL, "test message: no JSON");
}

const struct chat_kind chat_kind_test = {"test", test_render};
