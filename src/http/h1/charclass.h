/* Character classes of RFC 9110 5.6.2 (tokens), shared by the HTTP/1 head and chunk parsers. */
#ifndef LUX_H1_CHARCLASS_H
#define LUX_H1_CHARCLASS_H

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define IS_TSYM(c)                                                                            \
    ((c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||      \
     (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' ||       \
     (c) == '`' || (c) == '|' || (c) == '~')
#define IS_TCHAR(c) (IS_DIGIT(c) || IS_ALPHA(c) || IS_TSYM(c))

#endif
