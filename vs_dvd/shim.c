/* The native `dvd` namespace: core.dvd.Deblur and core.dvd.Version, implemented in Python.
 *
 * VapourSynth autoloads this library, so `core.dvd.Deblur(clip)` works in any script without
 * `import vs_dvd`. Each call imports vs_dvd.plugin through the CPython API of the Python that hosts
 * VapourSynth (vspipe embeds one; in plain python it is the process itself), and calls
 * `vs_dvd.plugin.bind(name)`. That calls core.dvd.Bind(func), handing this shim the Python
 * implementation as a VSFunction, which the shim then calls with the caller's arguments: the
 * VSMap <-> Python conversion stays VapourSynth's own. The library does not link libpython: it
 * looks the few CPython functions it needs up in the process, so one build serves any Python 3.
 */
#include <dlfcn.h>
#include <stdio.h>

#include "VapourSynth4.h"

/* manylinux_2_28: glibc 2.34 moved dlsym into libc under a new symbol version; bind the oldest one,
 * which every glibc still exports, so the wheel loads on systems older than the build machine. */
#if defined(__GLIBC__) && defined(__x86_64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#elif defined(__GLIBC__) && defined(__aarch64__)
__asm__(".symver dlsym,dlsym@GLIBC_2.17");
#endif

#ifndef DVD_VERSION_MAJOR
#error "DVD_VERSION_MAJOR and DVD_VERSION_MINOR come from setup.py: build with pip install ."
#endif

#define INSTALL "install it into the Python that VapourSynth uses: pip install vs-dvd"

/* Opaque CPython types: only pointers to them cross this file. */
typedef struct PyObject PyObject;
typedef int PyGILState_STATE;

static struct {
    int (*IsInitialized)(void);
    PyGILState_STATE (*GILStateEnsure)(void);
    void (*GILStateRelease)(PyGILState_STATE);
    PyObject *(*ImportModule)(const char *);
    PyObject *(*GetAttrString)(PyObject *, const char *);
    PyObject *(*CallFunction)(PyObject *, const char *, ...);
    void (*ErrFetch)(PyObject **, PyObject **, PyObject **);
    PyObject *(*Str)(PyObject *);
    const char *(*AsUTF8)(PyObject *);
    void (*DecRef)(PyObject *);
} py;

/* The implementation core.dvd.Bind handed over, for the call in progress on this thread: Bind
 * runs synchronously inside that call, so concurrent calls on other threads never mix. */
static _Thread_local VSFunction *bound;

static int find_python(void) {
    if (py.IsInitialized)
        return 1;
#define FIND(field, symbol) *(void **)&py.field = dlsym(RTLD_DEFAULT, symbol)
    FIND(GILStateEnsure, "PyGILState_Ensure");
    FIND(GILStateRelease, "PyGILState_Release");
    FIND(ImportModule, "PyImport_ImportModule");
    FIND(GetAttrString, "PyObject_GetAttrString");
    FIND(CallFunction, "PyObject_CallFunction");
    FIND(ErrFetch, "PyErr_Fetch");
    FIND(Str, "PyObject_Str");
    FIND(AsUTF8, "PyUnicode_AsUTF8");
    FIND(DecRef, "Py_DecRef");
#undef FIND
    int found = py.GILStateEnsure && py.GILStateRelease && py.ImportModule && py.GetAttrString
                && py.CallFunction && py.ErrFetch && py.Str && py.AsUTF8 && py.DecRef;
    if (found)  /* last: it is the flag that the others are set */
        *(void **)&py.IsInitialized = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    return py.IsInitialized != NULL;
}

static void release(PyObject *object) {
    if (object)
        py.DecRef(object);
}

/* The pending Python exception as "Type: message" in `text`, cleared. */
static void take_exception(char *text, size_t size) {
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    py.ErrFetch(&type, &value, &traceback);
    PyObject *name = type ? py.GetAttrString(type, "__name__") : NULL;
    PyObject *message = value ? py.Str(value) : NULL;
    const char *name_text = name ? py.AsUTF8(name) : NULL;
    const char *message_text = message ? py.AsUTF8(message) : NULL;
    snprintf(text, size, "%s%s%s", name_text ? name_text : "unknown error",
             message_text && *message_text ? ": " : "", message_text ? message_text : "");
    release(name);
    release(message);
    release(type);
    release(value);
    release(traceback);
    py.ErrFetch(&type, &value, &traceback);  /* drop anything raised while formatting */
    release(type);
    release(value);
    release(traceback);
}

/* Run vs_dvd.plugin.bind(name), which sets `bound`; on failure, write why into `error`. */
static int bind(const char *name, char *error, size_t size) {
    if (!find_python() || !py.IsInitialized()) {
        snprintf(error, size, "dvd.%s: no Python runs in this process, and the dvd plugin is written "
                 "in Python; call it from a VapourSynth script (vspipe, or python with import "
                 "vapoursynth)", name);
        return 0;
    }
    PyGILState_STATE gil = py.GILStateEnsure();
    PyObject *plugin = py.ImportModule("vs_dvd.plugin");
    if (!plugin) {
        char reason[1024];
        take_exception(reason, sizeof reason);
        snprintf(error, size, "dvd.%s: cannot import the Python package vs_dvd (%s); " INSTALL,
                 name, reason);
        py.GILStateRelease(gil);
        return 0;
    }
    PyObject *function = py.GetAttrString(plugin, "bind");
    PyObject *result = function ? py.CallFunction(function, "s", name) : NULL;
    if (!result) {
        char reason[1024];
        take_exception(reason, sizeof reason);
        snprintf(error, size, "dvd.%s: vs_dvd.plugin.bind failed (%s); reinstall vs-dvd: "
                 "pip install --force-reinstall vs-dvd", name, reason);
    }
    release(result);
    release(function);
    release(plugin);
    py.GILStateRelease(gil);
    if (result && !bound) {
        snprintf(error, size, "dvd.%s: vs_dvd.plugin.bind did not call core.dvd.Bind; the installed "
                 "vs_dvd does not match this plugin; reinstall it: pip install --force-reinstall "
                 "vs-dvd", name);
        return 0;
    }
    return result != NULL;
}

/* Every core.dvd.<name> call except Bind: forward to the Python implementation. */
static void VS_CC forward(const VSMap *in, VSMap *out, void *name, VSCore *core, const VSAPI *vsapi) {
    (void)core;
    char error[2048];
    if (bound)  /* left by a direct call of vs_dvd.plugin.bind */
        vsapi->freeFunction(bound);
    bound = NULL;
    if (!bind(name, error, sizeof error)) {
        if (bound)
            vsapi->freeFunction(bound);
        bound = NULL;
        vsapi->mapSetError(out, error);
        return;
    }
    VSFunction *function = bound;
    bound = NULL;
    VSMap *result = vsapi->createMap();
    vsapi->callFunction(function, in, result);
    vsapi->freeFunction(function);
    const char *failure = vsapi->mapGetError(result);
    int missing;
    const char *reported = vsapi->mapGetData(result, "error", 0, &missing);
    if (failure)  /* an exception other than vs.Error, a bug: VapourSynth's text has the traceback */
        vsapi->mapSetError(out, failure);
    else if (!missing)  /* a vs.Error, caught by vs_dvd.plugin: its message alone */
        vsapi->mapSetError(out, reported);
    else
        vsapi->copyMap(result, out);
    vsapi->freeMap(result);
}

/* core.dvd.Bind(func): called back by vs_dvd.plugin.bind with the implementation to forward to. */
static void VS_CC bind_function(const VSMap *in, VSMap *out, void *data, VSCore *core, const VSAPI *vsapi) {
    (void)out, (void)data, (void)core;
    if (bound)
        vsapi->freeFunction(bound);
    bound = vsapi->mapGetFunction(in, "func", 0, NULL);
}

VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin *plugin, const VSPLUGINAPI *vspapi) {
    vspapi->configPlugin("com.github.vs-dvd", "dvd", "Deep video deblurring (Su et al., CVPR 2017)",
                         VS_MAKE_VERSION(DVD_VERSION_MAJOR, DVD_VERSION_MINOR),
                         VAPOURSYNTH_API_VERSION, 0, plugin);
    /* The argument list of vs_dvd.deblur (vs_dvd/__init__.py), which checks every value. */
    vspapi->registerFunction("Deblur",
                             "clip:vnode;model:data:opt;backend:data:opt;tilesize:int[]:opt;"
                             "overlap:int[]:opt;device_id:int:opt;fp16:int:opt;num_streams:int:opt;"
                             "num_threads:int:opt;matrix:int:opt;int8:int:opt;engine_folder:data:opt;engine:data:opt;",
                             "clip:vnode;", forward, (void *)"Deblur", plugin);
    vspapi->registerFunction("Version", "", "any", forward, (void *)"Version", plugin);
    vspapi->registerFunction("Bind", "func:func;", "", bind_function, NULL, plugin);
}
