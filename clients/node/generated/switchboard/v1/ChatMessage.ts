// Original file: switchboard/v1/chat.proto


export interface ChatMessage {
  'from'?: (string);
  'text'?: (string);
}

export interface ChatMessage__Output {
  'from': (string);
  'text': (string);
}
