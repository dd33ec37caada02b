/* The nodes of {{name}}: each WV_NODE is a node, its (TYPE, name) parameters
 * are its inputs. Build and run: weavelet run . */
#include <ctype.h>
#include <string.h>

#include "weavelet.h"

/* A greeting for `name` (a pipeline parameter). */
WV_NODE(greeting, (.output = WV_TEXT, .doc = "A greeting for `name` (a pipeline parameter)."), (TEXT, name)) {
    if (name[0] == '\0') return wv_invalid(call, "name", "name must not be empty");
    return wv_return_text(call, wv_format(call, "Hello, %s!", name));
}

/* The greeting, louder. */
WV_NODE(loud, (.output = WV_TEXT, .doc = "The greeting, louder."), (TEXT, greeting)) {
    char *out = wv_format(call, "%s", greeting);
    for (char *c = out; *c; c++) *c = (char)toupper((unsigned char)*c);
    return wv_return_text(call, out);
}

WV_MODULE(greeting, loud)
