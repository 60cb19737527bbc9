/* nativecall.h: typed C function pointers from any native-callable Python object.
 *
 * Include it from C or Cython (nativecall.get_include() is its directory). It needs
 * Python.h and the nativecall package at run time; it has no link-time dependency.
 *
 *     double (*f)(double) = (double (*)(double))
 *         nativecall_function_pointer(obj, "double (double)");
 *     if (f == NULL) return NULL;   // a Python exception is set
 *
 * `obj` may be a nativecall Kernel or NativeCallable, a PyCapsule named by its
 * signature, a scipy.LowLevelCallable, a ctypes or cffi function pointer or a Numba
 * cfunc. Its signature must be ABI-equal to `signature` (any spelling nativecall
 * parses: "double (double)", "float64(float64)"); otherwise TypeError names both.
 * The pointer stays valid as long as `obj` is alive: keep a reference to it.
 */
#ifndef NATIVECALL_H
#define NATIVECALL_H

#include <Python.h>

#define NATIVECALL_H_VERSION 1

static void *nativecall_function_pointer(PyObject *obj, const char *signature)
{
    PyObject *module, *address;
    void *pointer;

    module = PyImport_ImportModule("nativecall._interop");
    if (module == NULL)
        return NULL;
    address = PyObject_CallMethod(module, "c_function_pointer", "Os", obj, signature);
    Py_DECREF(module);
    if (address == NULL)
        return NULL;
    pointer = PyLong_AsVoidPtr(address);
    Py_DECREF(address);
    if (pointer == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "nativecall: the function pointer is NULL");
    return pointer;
}

#endif /* NATIVECALL_H */
