// Original file: switchboard/v1/echo.proto


export interface EchoResponse {
  'message'?: (string);
}

export interface EchoResponse__Output {
  'message': (string);
}
