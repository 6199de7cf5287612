#include <stdio.h>
#include <histedit.h>

// el_set, el_get and history are C variadic functions, which Swift cannot call: these fixed-signature
// wrappers cover the calls the workbench's line editor makes.

typedef char *(*mstar_prompt_fn)(EditLine *);
typedef unsigned char (*mstar_editor_fn)(EditLine *, int);

static inline int mstar_el_set_prompt(EditLine *el, mstar_prompt_fn f) { return el_set(el, EL_PROMPT, f); }
static inline int mstar_el_set_editor(EditLine *el, const char *mode) { return el_set(el, EL_EDITOR, mode); }
static inline int mstar_el_set_signal(EditLine *el, int on) { return el_set(el, EL_SIGNAL, on); }
static inline int mstar_el_set_history(EditLine *el, History *h) { return el_set(el, EL_HIST, history, h); }
static inline int mstar_el_add_function(EditLine *el, const char *name, const char *help, mstar_editor_fn f) {
    return el_set(el, EL_ADDFN, name, help, f);
}
static inline int mstar_el_bind(EditLine *el, const char *key, const char *function) {
    return el_set(el, EL_BIND, key, function, NULL);
}
static inline int mstar_el_setty(EditLine *el, const char *mode, const char *flag) {
    return el_set(el, EL_SETTY, mode, flag, NULL);
}
static inline int mstar_el_prep_term(EditLine *el, int raw) { return el_set(el, EL_PREP_TERM, raw); }
static inline int mstar_el_set_clientdata(EditLine *el, void *data) { return el_set(el, EL_CLIENTDATA, data); }
static inline void *mstar_el_get_clientdata(EditLine *el) {
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    return data;
}

static inline int mstar_history_setsize(History *h, int n) { HistEvent ev; return history(h, &ev, H_SETSIZE, n); }
static inline int mstar_history_setunique(History *h, int on) { HistEvent ev; return history(h, &ev, H_SETUNIQUE, on); }
static inline int mstar_history_enter(History *h, const char *line) { HistEvent ev; return history(h, &ev, H_ENTER, line); }
static inline int mstar_history_load(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_LOAD, path); }
static inline int mstar_history_save(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_SAVE, path); }
