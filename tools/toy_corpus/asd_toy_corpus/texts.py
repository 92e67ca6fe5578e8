"""Sentences that the rule-based text-to-speech attacks read, per language.

Short prompts in the style of telephone voice menus, written for this
project, one list per espeak-ng language of the corpus speakers.

Authors
 * speechbrain-asd developers
"""

SENTENCES = {
    "en-us": (
        "Please hold the line while we connect your call.",
        "Your account balance will be read after the tone.",
        "Press one to repeat this message or two to continue.",
        "The number you have dialled is not available right now.",
        "Thank you for waiting, an agent will answer shortly.",
        "Please enter your four digit code followed by the hash key.",
        "The meeting room is open and two people are already here.",
        "You have three new messages and one saved message.",
    ),
    "fr-fr": (
        "Veuillez patienter, nous transférons votre appel.",
        "Tapez un pour réécouter ce message ou deux pour continuer.",
        "Le numéro que vous avez composé n'est pas disponible.",
        "Merci de votre patience, un conseiller va vous répondre.",
        "Entrez votre code secret suivi de la touche dièse.",
        "Vous avez trois nouveaux messages dans votre boîte vocale.",
        "La conférence est ouverte et deux participants attendent.",
        "Votre demande a bien été enregistrée, au revoir.",
    ),
    "it": (
        "Resti in linea, la sua chiamata sta per essere trasferita.",
        "Prema uno per riascoltare il messaggio o due per continuare.",
        "Il numero selezionato non è al momento raggiungibile.",
        "Grazie per l'attesa, un operatore risponderà a breve.",
        "Inserisca il codice personale seguito dal tasto cancelletto.",
        "Lei ha tre nuovi messaggi nella casella vocale.",
        "La conferenza è aperta e due partecipanti sono in attesa.",
        "La sua richiesta è stata registrata, arrivederci.",
    ),
    "ru": (
        "Пожалуйста, оставайтесь на линии, мы соединяем вас.",
        "Нажмите один, чтобы прослушать сообщение ещё раз.",
        "Набранный вами номер сейчас недоступен.",
        "Спасибо за ожидание, оператор скоро ответит.",
        "Введите ваш код и нажмите клавишу решётка.",
        "У вас три новых сообщения в голосовом ящике.",
        "Конференция открыта, два участника уже ждут.",
        "Ваш запрос принят, до свидания.",
    ),
    "es-419": (
        "Por favor espere mientras transferimos su llamada.",
        "Marque uno para repetir el mensaje o dos para continuar.",
        "El número que usted marcó no está disponible en este momento.",
        "Gracias por esperar, un asesor lo atenderá en breve.",
        "Ingrese su clave personal seguida de la tecla numeral.",
        "Usted tiene tres mensajes nuevos en su buzón de voz.",
        "La conferencia está abierta y dos participantes esperan.",
        "Su solicitud fue registrada, hasta luego.",
    ),
    "cs": (
        "Prosím, zůstaňte na lince, váš hovor bude přepojen.",
        "Stiskněte jedničku pro opakování zprávy nebo dvojku pro pokračování.",
        "Volané číslo není v tuto chvíli dostupné.",
        "Děkujeme za trpělivost, operátor se vám brzy ozve.",
        "Zadejte svůj osobní kód a stiskněte mřížku.",
        "Máte tři nové zprávy v hlasové schránce.",
        "Konference je otevřená a dva účastníci už čekají.",
        "Váš požadavek byl zaznamenán, na shledanou.",
    ),
    "nl": (
        "Blijf aan de lijn, uw gesprek wordt doorverbonden.",
        "Druk op één om dit bericht te herhalen of op twee om verder te gaan.",
        "Het nummer dat u hebt gekozen is nu niet bereikbaar.",
        "Bedankt voor uw geduld, een medewerker helpt u zo.",
        "Voer uw persoonlijke code in, gevolgd door het hekje.",
        "U hebt drie nieuwe berichten in uw voicemail.",
        "De vergadering is geopend en twee deelnemers wachten al.",
        "Uw verzoek is geregistreerd, tot ziens.",
    ),
}


def sentences_for(language):
    """Returns the sentences for an espeak-ng language of the corpus.

    Arguments
    ---------
    language : str
        An espeak-ng language code, e.g. ``"fr-fr"``.

    Returns
    -------
    tuple of str
        The sentences.

    Raises
    ------
    ValueError
        For a language without sentences.

    Example
    -------
    >>> len(sentences_for("it"))
    8
    """
    if language not in SENTENCES:
        raise ValueError(
            f"no sentences for language {language!r}; "
            f"known: {', '.join(sorted(SENTENCES))}"
        )
    return SENTENCES[language]
