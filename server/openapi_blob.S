/* Embeds api/openapi.json so the binary serves the document it was built with. */
    .section .rodata
    .global sl_openapi_json
    .global sl_openapi_json_end
sl_openapi_json:
    .incbin SL_OPENAPI_PATH
sl_openapi_json_end:
    .byte 0
    .section .note.GNU-stack,"",@progbits
