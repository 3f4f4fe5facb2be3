// JNI glue of org.bitlite.BitliteDelegate: creates and destroys the delegate through the
// plugin functions of libbitlite_delegate.so, the same entry points TFLite's Python
// load_delegate uses, so Java and Python parse options in one place (delegate_options.cc).
#include <jni.h>

#include <cstddef>
#include <string>
#include <vector>

struct TfLiteDelegate;

extern "C" {
TfLiteDelegate* tflite_plugin_create_delegate(char** options_keys, char** options_values,
                                              size_t num_options,
                                              void (*report_error)(const char*));
void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate);
}

namespace {

// report_error has no context argument: the message goes to the creating thread's string
// (a plain pointer: a thread_local std::string would need libc's thread-exit destructors).
thread_local std::string* creation_error = nullptr;

void KeepCreationError(const char* message) { *creation_error = message; }

std::vector<std::string> ToStrings(JNIEnv* env, jobjectArray array) {
  std::vector<std::string> strings;
  const jsize count = env->GetArrayLength(array);
  for (jsize i = 0; i < count; ++i) {
    auto element = static_cast<jstring>(env->GetObjectArrayElement(array, i));
    const char* chars = env->GetStringUTFChars(element, nullptr);
    strings.emplace_back(chars);
    env->ReleaseStringUTFChars(element, chars);
    env->DeleteLocalRef(element);
  }
  return strings;
}

std::vector<char*> CharPointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(&s[0]);
  return pointers;
}

}  // namespace

// Returns the TfLiteDelegate* for Delegate.getNativeHandle(), or throws
// IllegalArgumentException with the delegate's message (unknown option, bad value).
extern "C" JNIEXPORT jlong JNICALL Java_org_bitlite_BitliteDelegate_nativeCreate(
    JNIEnv* env, jclass, jobjectArray keys, jobjectArray values) {
  std::vector<std::string> key_strings = ToStrings(env, keys);
  std::vector<std::string> value_strings = ToStrings(env, values);
  std::vector<char*> key_pointers = CharPointers(key_strings);
  std::vector<char*> value_pointers = CharPointers(value_strings);
  std::string error;
  creation_error = &error;
  TfLiteDelegate* delegate = tflite_plugin_create_delegate(
      key_pointers.data(), value_pointers.data(), key_pointers.size(), KeepCreationError);
  creation_error = nullptr;
  if (delegate == nullptr) {
    env->ThrowNew(env->FindClass("java/lang/IllegalArgumentException"), error.c_str());
  }
  return reinterpret_cast<jlong>(delegate);
}

extern "C" JNIEXPORT void JNICALL Java_org_bitlite_BitliteDelegate_nativeDestroy(JNIEnv*, jclass,
                                                                                 jlong handle) {
  tflite_plugin_destroy_delegate(reinterpret_cast<TfLiteDelegate*>(handle));
}
